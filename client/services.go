package client

import (
	"context"
	"net/url"
	"time"
)

// Service is one front door of canary serve (GET /api/v1/services).
type Service struct {
	Address     string `json:"address"`
	Holder      string `json:"holder"`
	Open        bool   `json:"open"`
	Stable      string `json:"stable"`
	Canary      string `json:"canary"`
	Weight      int    `json:"weight"`
	LiveRollout *struct {
		Name       string `json:"name"`
		Generation int    `json:"generation"`
		Version    string `json:"version"`
		Phase      string `json:"phase"`
	} `json:"liveRollout,omitempty"`
	Tracks map[string]struct {
		RequestsPerSecond float64 `json:"requestsPerSecond"`
		ErrorRate         float64 `json:"errorRate"`
	} `json:"tracks"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// Services lists the front doors.
func (c *Client) Services(ctx context.Context) ([]Service, error) {
	var out struct {
		Items []Service `json:"items"`
	}
	err := c.call(ctx, "GET", "/api/v1/services", nil, "", nil, &out)
	return out.Items, err
}

// DeleteService removes the front door at address.
func (c *Client) DeleteService(ctx context.Context, address string) error {
	return c.call(ctx, "DELETE", "/api/v1/services/"+url.PathEscape(address), nil, "", nil, nil)
}

package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/canary-dev/canary"
)

// servicesSchema is migration 7: the front doors of canary serve. A
// service is the built-in proxy listening on one address; it outlives the
// rollouts that drive it, and its routing (both upstreams and the weight)
// is saved on every change so a restart serves exactly what was served.
const servicesSchema = `
CREATE TABLE services (
	address    TEXT    PRIMARY KEY,                -- traffic.proxy.listen, host:port
	holder     TEXT    NOT NULL,                   -- namespace/name of the rollouts that drive it
	config     BLOB    NOT NULL,                   -- traffic.proxy as JSON (sticky keys, admin address)
	stable     TEXT    NOT NULL,                   -- the live stable upstream URL
	canary     TEXT    NOT NULL,                   -- the canary upstream URL
	weight     INTEGER NOT NULL CHECK (weight BETWEEN 0 AND 100),
	created_at INTEGER NOT NULL,                   -- Unix nanoseconds
	updated_at INTEGER NOT NULL
) WITHOUT ROWID;
`

// Routing is what a front door serves: the share of requests (Weight,
// percent) going to Canary, the rest to Stable.
type Routing struct {
	Stable string `json:"stable"`
	Canary string `json:"canary"`
	Weight int    `json:"weight"`
}

// Service is one front door.
type Service struct {
	// Address is the proxy's listen address, the service's identity.
	Address string `json:"address"`
	// Holder is the rollout name ("namespace/name") whose rollouts drive
	// it; a plan of another name may not claim the address.
	Holder string `json:"holder"`
	// Config is the plan's traffic.proxy (JSON) the listener was opened
	// with.
	Config []byte `json:"-"`
	Routing
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// ClaimService returns the service at svc.Address, creating it from svc
// when there is none (created tells). A service held by another name is a
// conflict naming the holder.
func (s *Store) ClaimService(ctx context.Context, svc Service, now time.Time) (got Service, created bool, err error) {
	err = s.write(ctx, "claim service", func(tx *sql.Tx) error {
		got, err = scanService(tx.QueryRowContext(ctx, serviceSelect+` WHERE address = ?`, svc.Address))
		switch {
		case err == nil:
			if got.Holder != svc.Holder {
				return canary.Errorf(canary.ECONFLICT,
					"traffic.proxy.listen %s is the front door of %s: use another address, or remove that service first (canary delete service %s)",
					svc.Address, got.Holder, svc.Address)
			}
			return nil
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO services (address, holder, config, stable, canary, weight, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, svc.Address, svc.Holder, svc.Config, svc.Stable, svc.Canary, svc.Weight, nanos(now), nanos(now))
		got, created = svc, true
		got.CreatedAt, got.UpdatedAt = now.UTC(), now.UTC()
		return err
	})
	return got, created, err
}

// SaveRouting records the routing a front door now serves.
func (s *Store) SaveRouting(ctx context.Context, address string, r Routing, now time.Time) error {
	return s.write(ctx, "save routing", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE services SET stable = ?, canary = ?, weight = ?, updated_at = ? WHERE address = ?`,
			r.Stable, r.Canary, r.Weight, nanos(now), address)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return canary.Errorf(canary.ENOTFOUND, "service %s not found", address)
		}
		return nil
	})
}

// UpdateServiceConfig replaces the traffic.proxy a service is opened with.
func (s *Store) UpdateServiceConfig(ctx context.Context, address string, config []byte, now time.Time) error {
	return s.write(ctx, "update service", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE services SET config = ?, updated_at = ? WHERE address = ?`, config, nanos(now), address)
		return err
	})
}

// Service returns the service at address.
func (s *Store) Service(ctx context.Context, address string) (Service, error) {
	var svc Service
	err := s.read(ctx, "get service", func(tx *sql.Tx) error {
		var err error
		svc, err = scanService(tx.QueryRowContext(ctx, serviceSelect+` WHERE address = ?`, address))
		if errors.Is(err, sql.ErrNoRows) {
			return canary.Errorf(canary.ENOTFOUND, "service %s not found (canary get services lists them)", address)
		}
		return err
	})
	return svc, err
}

// Services returns every service, by address.
func (s *Store) Services(ctx context.Context) ([]Service, error) {
	var out []Service
	err := s.read(ctx, "list services", func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, serviceSelect+` ORDER BY address`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			svc, err := scanService(rows)
			if err != nil {
				return err
			}
			out = append(out, svc)
		}
		return rows.Err()
	})
	return out, err
}

// DeleteService removes the service at address.
func (s *Store) DeleteService(ctx context.Context, address string) error {
	return s.write(ctx, "delete service", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM services WHERE address = ?`, address)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return canary.Errorf(canary.ENOTFOUND, "service %s not found (canary get services lists them)", address)
		}
		return nil
	})
}

const serviceSelect = `SELECT address, holder, config, stable, canary, weight, created_at, updated_at FROM services`

func scanService(row interface{ Scan(...any) error }) (Service, error) {
	var svc Service
	var created, updated int64
	err := row.Scan(&svc.Address, &svc.Holder, &svc.Config, &svc.Stable, &svc.Canary, &svc.Weight, &created, &updated)
	if err != nil {
		return Service{}, err
	}
	svc.CreatedAt, svc.UpdatedAt = fromNanos(created), fromNanos(updated)
	return svc, nil
}

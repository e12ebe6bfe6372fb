package checks

import (
	"fmt"
	"strings"
	"testing"
)

// TestHeadTail writes the same text in different chunkings and checks the
// kept output is always the first and last bytes with the count between.
func TestHeadTail(t *testing.T) {
	var sb strings.Builder
	for i := range 500 {
		fmt.Fprintf(&sb, "line %03d\n", i) // 9 bytes each, 4500 in all
	}
	text := sb.String()
	const headMax, tailMax = 100, 50
	want := text[:headMax] + fmt.Sprintf("\n… %d bytes omitted …\n", len(text)-headMax-tailMax) + text[len(text)-tailMax:]
	tests := []struct {
		name  string
		chunk int
	}{
		{"byte by byte", 1},
		{"lines", 9},
		{"chunks smaller than the tail", 37},
		{"chunks larger than the tail", 777},
		{"one write", len(text)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := &headTail{headMax: headMax, tailMax: tailMax}
			for s := text; s != ""; {
				n := min(tt.chunk, len(s))
				if k, err := w.Write([]byte(s[:n])); k != n || err != nil {
					t.Fatalf("Write = %d, %v; want %d, nil", k, err, n)
				}
				s = s[n:]
			}
			if got := w.String(); got != want {
				t.Errorf("got %q\nwant %q", got, want)
			}
		})
	}
	t.Run("short output is kept whole", func(t *testing.T) {
		w := &headTail{headMax: headMax, tailMax: tailMax}
		w.Write([]byte(text[:120]))
		if got := w.String(); got != text[:120] {
			t.Errorf("got %q, want %q", got, text[:120])
		}
	})
}

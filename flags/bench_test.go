package flags

import (
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

// BenchmarkOFREP measures one OFREP evaluation through the handler (no
// network) per store, with and without a Cache in front.
func BenchmarkOFREP(b *testing.B) {
	for _, k := range storeKinds {
		for _, cached := range []bool{false, true} {
			name := k.name
			if cached {
				name += "+cache"
			}
			b.Run(name, func(b *testing.B) {
				s := k.open(b)
				mustSet(b, s, "f", true, 10)
				if cached {
					s = NewCache(s, 0, nil)
				}
				h, err := NewHandler(Config{Store: s})
				if err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				for i := 0; b.Loop(); i++ {
					r := httptest.NewRequest("POST", "/ofrep/v1/evaluate/flags/f",
						strings.NewReader(`{"context":{"targetingKey":"user-`+strconv.Itoa(i)+`"}}`))
					w := httptest.NewRecorder()
					h.ServeHTTP(w, r)
					if w.Code != 200 {
						b.Fatal(w.Code, w.Body.String())
					}
				}
			})
		}
	}
}

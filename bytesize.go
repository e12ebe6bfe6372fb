package canary

import (
	"fmt"
	"strconv"
	"strings"
)

// ByteSize is a number of bytes written with a binary unit: "64KiB",
// "1MiB", or a bare number of bytes ("512"). Decimal units (KB, MB) are
// rejected so a plan never means something other than it says.
//
// +kubebuilder:validation:Type=string
type ByteSize int64

// String formats b in the largest unit that divides it: "64KiB", "1MiB",
// "1000".
func (b ByteSize) String() string {
	switch {
	case b != 0 && b%(1<<20) == 0:
		return strconv.FormatInt(int64(b>>20), 10) + "MiB"
	case b != 0 && b%(1<<10) == 0:
		return strconv.FormatInt(int64(b>>10), 10) + "KiB"
	}
	return strconv.FormatInt(int64(b), 10)
}

// MarshalText implements encoding.TextMarshaler.
func (b ByteSize) MarshalText() ([]byte, error) { return []byte(b.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (b *ByteSize) UnmarshalText(t []byte) error {
	v, err := ParseByteSize(string(t))
	if err != nil {
		return err
	}
	*b = v
	return nil
}

// ParseByteSize parses a size: a whole number followed by KiB, MiB or
// nothing (bytes).
func ParseByteSize(s string) (ByteSize, error) {
	num, shift := s, 0
	switch {
	case strings.HasSuffix(s, "KiB"):
		num, shift = strings.TrimSuffix(s, "KiB"), 10
	case strings.HasSuffix(s, "MiB"):
		num, shift = strings.TrimSuffix(s, "MiB"), 20
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > 1<<30>>shift || strings.TrimSpace(num) != num {
		return 0, fmt.Errorf("%q is not a size: write a whole number and KiB or MiB up to 1024MiB, e.g. 64KiB (a bare number is bytes)", s)
	}
	return ByteSize(n << shift), nil
}

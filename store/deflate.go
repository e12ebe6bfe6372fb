package store

import (
	"math/bits"
	"sync"
)

// A DEFLATE (RFC 1951) encoder for event bodies: one final block with the
// fixed Huffman codes, matches found through a hash table of 4-byte
// prefixes (one candidate each) that starts from eventDict's, so a body
// refers back into the dictionary from its first byte. It produces the
// stream that flate.NewReaderDict(r, eventDict) decodes.
//
// compress/flate's BestSpeed costs twice as much here: it ignores a
// preset dictionary, so the dictionary has to be compressed (and thrown
// away) before every body, and each of the two blocks builds its own
// Huffman tables. Dynamic tables would save ~10% of the bytes; building
// them costs more than the rest of the encoding.

const (
	hashBits   = 12
	minMatch   = 4 // shorter matches cost as much as literals in fixed codes
	maxMatch   = 258
	maxOffset  = 1 << 15
	endOfBlock = 256
)

// hashTables are deflateDict's hash tables.
var hashTables = sync.Pool{New: func() any { return new([1 << hashBits]int32) }}

// dictTable maps the hash of every 4-byte prefix in eventDict to its last
// position (+1; 0 is empty).
var dictTable = func() (t [1 << hashBits]int32) {
	for i := 0; i+minMatch <= len(eventDictV1); i++ {
		t[hash4(eventDictV1[i:])] = int32(i + 1)
	}
	return t
}()

func hash4[T []byte | string](b T) uint32 {
	v := uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
	return (v * 2654435761) >> (32 - hashBits)
}

// bitWriter appends bits LSB first, as DEFLATE orders them.
type bitWriter struct {
	out  []byte
	acc  uint64
	nacc uint
}

func (w *bitWriter) bits(v uint64, n uint) {
	w.acc |= v << w.nacc
	w.nacc += n
	for w.nacc >= 8 {
		w.out = append(w.out, byte(w.acc))
		w.acc >>= 8
		w.nacc -= 8
	}
}

func (w *bitWriter) flush() []byte {
	if w.nacc > 0 {
		w.out = append(w.out, byte(w.acc))
	}
	return w.out
}

// fixedLit are the fixed Huffman codes of literals, lengths and end of
// block (0–287), bit-reversed for the LSB-first stream, with their
// lengths.
var fixedLit, fixedLitLen = func() (code [288]uint16, n [288]uint8) {
	for v := range 288 {
		var c, l int
		switch {
		case v < 144:
			c, l = 0x30+v, 8
		case v < 256:
			c, l = 0x190+v-144, 9
		case v < 280:
			c, l = v-256, 7
		default:
			c, l = 0xc0+v-280, 8
		}
		code[v] = bits.Reverse16(uint16(c)) >> (16 - l)
		n[v] = uint8(l)
	}
	return
}()

// Length codes 257–285 and distance codes 0–29: the base value and the
// extra bits of each.
var (
	lenBase   = [29]uint16{3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258}
	lenExtra  = [29]uint8{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}
	distBase  = [30]uint32{1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577}
	distExtra = [30]uint8{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13}
	// lenCode[l-3] is the length code index (0–28) of length l.
	lenCode = func() (t [maxMatch - 2]uint8) {
		c := 0
		for l := 3; l <= maxMatch; l++ {
			for c < 28 && int(lenBase[c+1]) <= l {
				c++
			}
			t[l-3] = uint8(c)
		}
		return
	}()
)

// distCode is the distance code (0–29) of distance d (1–32768).
func distCode(d uint32) int {
	lo, hi := 0, 29
	for lo < hi { // the last base ≤ d
		mid := (lo + hi + 1) / 2
		if distBase[mid] <= d {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo
}

// deflateDict appends src compressed against eventDict to dst.
func deflateDict(dst, src []byte) []byte {
	w := bitWriter{out: dst}
	w.bits(1|1<<1, 3) // BFINAL, BTYPE=01 (fixed codes)
	// Not on the stack: 16 KiB would grow the stack of every goroutine
	// that commits (one per rollout) to 32 KiB for good.
	table := hashTables.Get().(*[1 << hashBits]int32)
	defer hashTables.Put(table)
	*table = dictTable
	nd := len(eventDictV1)
	// at returns byte i of eventDict+src.
	at := func(i int) byte {
		if i < nd {
			return eventDictV1[i]
		}
		return src[i-nd]
	}
	n := nd + len(src)
	for i := nd; i < n; {
		if i+minMatch > n {
			w.literal(src[i-nd])
			i++
			continue
		}
		h := hash4(src[i-nd:])
		cand := int(table[h]) - 1
		table[h] = int32(i + 1)
		if cand < 0 || i-cand > maxOffset || at(cand) != src[i-nd] || at(cand+1) != src[i-nd+1] ||
			at(cand+2) != src[i-nd+2] || at(cand+3) != src[i-nd+3] {
			w.literal(src[i-nd])
			i++
			continue
		}
		l := minMatch
		for l < maxMatch && i+l < n && at(cand+l) == src[i-nd+l] {
			l++
		}
		w.match(l, uint32(i-cand))
		for j := i + 1; j < i+l && j+minMatch <= n; j++ {
			table[hash4(src[j-nd:])] = int32(j + 1)
		}
		i += l
	}
	w.bits(uint64(fixedLit[endOfBlock]), uint(fixedLitLen[endOfBlock]))
	return w.flush()
}

func (w *bitWriter) literal(b byte) {
	w.bits(uint64(fixedLit[b]), uint(fixedLitLen[b]))
}

// match writes a length (3–258) and a distance (1–32768).
func (w *bitWriter) match(l int, d uint32) {
	lc := lenCode[l-3]
	sym := 257 + int(lc)
	w.bits(uint64(fixedLit[sym]), uint(fixedLitLen[sym]))
	if e := lenExtra[lc]; e > 0 {
		w.bits(uint64(l-int(lenBase[lc])), uint(e))
	}
	dc := distCode(d)
	w.bits(uint64(bits.Reverse8(uint8(dc))>>3), 5)
	if e := distExtra[dc]; e > 0 {
		w.bits(uint64(d-distBase[dc]), uint(e))
	}
}

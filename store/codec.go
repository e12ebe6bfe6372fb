package store

import (
	"bytes"
	"compress/flate"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"

	"github.com/canary-dev/canary"
)

// Event bodies are stored in one of three forms, told apart by their
// first byte:
//
//   - '{': the event as JSON text (every body written before schema
//     version 4, and any body that compression would not shrink);
//   - bodyFlateV1: the same JSON compressed with DEFLATE (RFC 1951)
//     against eventDictV1, a preset dictionary of the words every event
//     repeats (field names, verdicts, metrics, phases). Written by
//     canary's own encoder from schema version 4 until bodyZstdV1
//     replaced it; still read (compress/flate's NewReaderDict), never
//     written;
//   - bodyZstdV1: the same JSON as one Zstandard (RFC 8878) frame,
//     compressed against eventDictV1 as a raw dictionary (ID
//     zstdDictIDV1), without a checksum, by klauspost/compress/zstd.
//     Written from schema version 5 until bodyS2DictV1 replaced it; still
//     read, never written;
//   - bodyS2DictV1: the same JSON as one S2 block (klauspost/compress/s2)
//     against eventDictV1 as an S2 dictionary whose first repeat offset is
//     the dictionary's last `{"seq":` (s2EventDict). Written from schema
//     version 9.
//
// Decoding gives back the JSON byte for byte, so the API, the report and
// the dashboard see exactly what they saw before. An evaluation event of 6
// rules with measured values shrinks from ~1,380 to ~440 bytes as
// bodyS2DictV1, for ~1.5 µs of CPU (store/codec_test.go:
// TestEvaluationBodySize, BenchmarkEventBody); bodyZstdV1 took ~290 bytes
// for 6-8 times the CPU (most of it resetting the encoder's tables to the
// dictionary's, for every body), bodyFlateV1 ~380 bytes. At 10,000
// rollouts evaluated every second zstd was about a tenth of canary's CPU
// (BENCHMARKS.md, "Rollouts at scale"): S2 trades ~150 bytes of disk per
// evaluation for it.
// A new form takes the next tag byte (and may take a new dictionary): a
// released dictionary is never edited, or the bodies written with it no
// longer decode.
//
// A rollout's snapshot (the rollouts table's state) is stored the same
// way, in one more form:
//
//   - stateS2V1: the JSON as one S2 block (klauspost/compress/s2, a
//     Snappy extension), no dictionary. Written for a snapshot of at
//     least stateCompressMin bytes of JSON (see compressState).
const (
	bodyFlateV1  = 0x01
	bodyZstdV1   = 0x02
	stateS2V1    = 0x03
	bodyS2DictV1 = 0x04
)

// stateCompressMin is the least JSON a snapshot is compressed from. A
// snapshot is rewritten at every commit, so its cost is paid at every
// evaluation: the JSON of a runbook rollout's (six rules, the threshold
// rules' last ten windows of counts) is ~4.6 KB, which with the plan (the
// same row) spills onto a second 4 KiB page, written to the WAL and again
// by the checkpoint at every commit; as S2 it is ~0.8-1.6 KB (with
// identical or varied counts), for ~1-3 µs; zstd would take ~10-25 µs
// for ~0.85 KB (store/statecodec_test.go: BenchmarkStateCodec).
// Smaller snapshots (a rollout before its first evaluations) stay JSON
// text, which SQLite's JSON functions read.
const stateCompressMin = 1024

// compressState appends a snapshot's stored form to dst: stateS2V1 and
// text as an S2 block. The caller stores text as is when it is shorter
// than stateCompressMin.
func compressState(dst, text []byte) []byte {
	n := s2.MaxEncodedLen(len(text))
	start := len(dst)
	dst = append(dst, stateS2V1)
	if cap(dst)-len(dst) < n {
		dst = append(make([]byte, 0, len(dst)+n), dst...)
	}
	out := s2.Encode(dst[len(dst):len(dst)+n], text)
	dst = dst[:len(dst)+len(out)]
	if len(dst)-start >= len(text) {
		return append(dst[:start], text...)
	}
	return dst
}

// zstdDictIDV1 is eventDictV1's dictionary ID in bodyZstdV1 frames.
const zstdDictIDV1 = 1

// eventDictV1 is the dictionary of bodyFlateV1 and bodyZstdV1. A match
// costs fewer bits the nearer it is (in both formats), so the most
// frequent text comes last.
const eventDictV1 = `"comparison":{"test":"mann-whitney","data":"requests","estimate":0,"lower":0,"upper":0,"p":0,"tolerance":0,"confidence":0.95,"relative":true,"canaryN":0,"stableN":0},` +
	`"shortWindow":300000000000,"shortValue":0,"detail":"","pendingFor":60000000000,"firing":true,"error":"","actor":"","urgency":"medium",` +
	`"action":{"id":1,"kind":"setWeight","weight":5,"flagEnabled":true},"type":"actionSucceeded","type":"actionIssued",` +
	`"verdict":"insufficient","verdict":"nodata","verdict":"breach",` +
	`{"rule":"burnRate \u003e 2x for 10m","metric":"burnRate","window":600000000000,"value":0.5,"samples":1000,"threshold":2,"op":"above","verdict":"pass","stable":0.5},` +
	`{"rule":"errorRate \u003e 1% for 5m","metric":"errorRate","window":300000000000,"value":0.001,"samples":1000,"threshold":0.01,"op":"above","verdict":"pass","stable":0.001},` +
	`{"seq":1,"time":"2026-01-01T00:00:00.000000000Z","rollout":"","type":"evaluated","phase":"Progressing","step":0,"weight":5,"message":"evaluated 6 rules: 6 pass","evaluations":` +
	`[{"rule":"latencyP95 \u003e 600ms for 5m","metric":"latencyP95","window":60000000000,"value":0.2,"samples":1000,"threshold":0.6,"op":"above","verdict":"pass","stable":0.2}]}`

// eventDict is eventDictV1 as bytes.
var eventDict = []byte(eventDictV1)

// zstdWindow was the bodyZstdV1 encoder's window (the tests' encoder,
// codec_test.go, still uses it): enough for the dictionary and any
// ordinary body.
const zstdWindow = 64 << 10

// zstdDecoder reads bodyZstdV1 bodies. It is shared by every goroutine
// (DecodeAll is safe for concurrent use): created once, its tables live
// on the heap, and a call allocates nothing beyond its output.
var zstdDecoder = func() *zstd.Decoder {
	dec, err := zstd.NewReader(nil,
		zstd.WithDecoderDictRaw(zstdDictIDV1, eventDict),
		zstd.WithDecoderConcurrency(0)) // GOMAXPROCS
	if err != nil {
		panic(fmt.Sprintf("store: zstd decoder: %v", err))
	}
	return dec
}()

// s2EventDict is eventDictV1 as bodyS2DictV1's dictionary. Its first
// repeat offset is part of the format (a block may begin by repeating
// it), so it is fixed here rather than searched by s2.MakeDict: the
// dictionary's last `{"seq":`, where every event's JSON begins.
var s2EventDict = func() *s2.Dict {
	d := s2.MakeDictManual(eventDict, uint16(strings.LastIndex(eventDictV1, `{"seq":`)))
	if d == nil {
		panic("store: S2 event dictionary refused")
	}
	return d
}()

// compressBody appends body's stored form to dst: bodyS2DictV1 and the
// body compressed against s2EventDict, or the JSON itself when that is
// not smaller.
func compressBody(dst []byte, body []byte) []byte {
	start := len(dst)
	dst = append(dst, bodyS2DictV1)
	n := s2.MaxEncodedLen(len(body))
	if cap(dst)-len(dst) < n {
		dst = append(make([]byte, 0, len(dst)+n), dst...)
	}
	out := s2EventDict.Encode(dst[len(dst):len(dst)+n], body)
	dst = dst[:len(dst)+len(out)]
	if len(dst)-start >= len(body) {
		return append(dst[:start], body...)
	}
	return dst
}

// flateReaders are DEFLATE readers to Reset (about 40 KB each), for
// bodyFlateV1 bodies.
var flateReaders = sync.Pool{New: func() any { return flate.NewReaderDict(bytes.NewReader(nil), eventDict) }}

// decodeBody turns a stored body (any form) into the event, using buf
// as scratch space; it returns buf for reuse.
func decodeBody(stored []byte, ev *canary.Event, buf *bytes.Buffer) error {
	text, err := bodyJSON(stored, buf)
	if err != nil {
		return fmt.Errorf("decode event: %w", err)
	}
	if err := json.Unmarshal(text, ev); err != nil {
		return fmt.Errorf("decode event: %w", err)
	}
	return nil
}

// bodyJSON returns a stored body's or snapshot's JSON text: stored
// itself, or its decompression into buf.
func bodyJSON(stored []byte, buf *bytes.Buffer) ([]byte, error) {
	if len(stored) == 0 {
		return nil, fmt.Errorf("empty body")
	}
	switch stored[0] {
	case '{':
		return stored, nil
	case bodyZstdV1:
		buf.Reset()
		text, err := zstdDecoder.DecodeAll(stored[1:], buf.AvailableBuffer())
		if err != nil {
			return nil, fmt.Errorf("decompress: %w", err)
		}
		buf.Write(text) // keeps text's memory in buf for the next body
		return buf.Bytes(), nil
	case bodyS2DictV1:
		n, err := s2.DecodedLen(stored[1:])
		if err != nil {
			return nil, fmt.Errorf("decompress: %w", err)
		}
		buf.Reset()
		buf.Grow(n)
		text, err := s2EventDict.Decode(buf.AvailableBuffer()[:n], stored[1:])
		if err != nil {
			return nil, fmt.Errorf("decompress: %w", err)
		}
		buf.Write(text)
		return buf.Bytes(), nil
	case stateS2V1:
		n, err := s2.DecodedLen(stored[1:])
		if err != nil {
			return nil, fmt.Errorf("decompress: %w", err)
		}
		buf.Reset()
		buf.Grow(n)
		text, err := s2.Decode(buf.AvailableBuffer()[:n], stored[1:])
		if err != nil {
			return nil, fmt.Errorf("decompress: %w", err)
		}
		buf.Write(text)
		return buf.Bytes(), nil
	case bodyFlateV1:
		r := flateReaders.Get().(io.ReadCloser)
		defer flateReaders.Put(r)
		if err := r.(flate.Resetter).Reset(bytes.NewReader(stored[1:]), eventDict); err != nil {
			return nil, err
		}
		buf.Reset()
		if _, err := buf.ReadFrom(r); err != nil {
			return nil, fmt.Errorf("decompress: %w", err)
		}
		return buf.Bytes(), nil
	default:
		return nil, fmt.Errorf("unknown encoding %#x (written by a newer canary? use a newer canary binary)", stored[0])
	}
}

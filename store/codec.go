package store

import (
	"bytes"
	"compress/flate"
	"encoding/json"
	"fmt"
	"io"
	"sync"

	"github.com/canary-dev/canary"
)

// Event bodies are stored in one of two forms, told apart by their first
// byte:
//
//   - '{': the event as JSON text (every body written before schema
//     version 4, and any body that compression would not shrink);
//   - bodyFlateV1: the same JSON compressed with DEFLATE (RFC 1951)
//     against eventDictV1, a preset dictionary of the words every event
//     repeats (field names, verdicts, metrics, phases), by deflateDict;
//     any DEFLATE decoder given the dictionary reads it (compress/flate's
//     NewReaderDict here).
//
// Decoding gives back the JSON byte for byte, so the API, the report and
// the dashboard see exactly what they saw before. An evaluation event of 6
// rules with measured values shrinks from ~1,380 to ~380 bytes, for ~5 µs
// of CPU (store/codec_test.go: TestEvaluationBodySize, BenchmarkEventBody).
// A new form
// takes the next tag byte and a new dictionary: a released dictionary is
// never edited, or the bodies written with it no longer decode.
const bodyFlateV1 = 0x01

// eventDictV1 is bodyFlateV1's dictionary. DEFLATE finds a match more
// cheaply the nearer it is, so the most frequent text comes last.
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

// compressBody appends body's stored form to dst: bodyFlateV1 and the
// body compressed against eventDict (deflateDict), or the JSON itself when
// that is not smaller.
func compressBody(dst []byte, body []byte) []byte {
	start := len(dst)
	dst = append(dst, bodyFlateV1)
	dst = deflateDict(dst, body)
	if len(dst)-start >= len(body) {
		return append(dst[:start], body...)
	}
	return dst
}

// flateReaders are DEFLATE readers to Reset (about 40 KB each).
var flateReaders = sync.Pool{New: func() any { return flate.NewReaderDict(bytes.NewReader(nil), eventDict) }}

// decodeBody turns a stored body (either form) into the event, using buf
// as scratch space; it returns buf for reuse.
func decodeBody(stored []byte, ev *canary.Event, buf *bytes.Buffer) error {
	text, err := bodyJSON(stored, buf)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(text, ev); err != nil {
		return fmt.Errorf("decode event: %w", err)
	}
	return nil
}

// bodyJSON returns a stored body's JSON text: stored itself, or its
// decompression into buf.
func bodyJSON(stored []byte, buf *bytes.Buffer) ([]byte, error) {
	if len(stored) == 0 {
		return nil, fmt.Errorf("decode event: empty body")
	}
	switch stored[0] {
	case '{':
		return stored, nil
	case bodyFlateV1:
		r := flateReaders.Get().(io.ReadCloser)
		defer flateReaders.Put(r)
		if err := r.(flate.Resetter).Reset(bytes.NewReader(stored[1:]), eventDict); err != nil {
			return nil, fmt.Errorf("decode event: %w", err)
		}
		buf.Reset()
		if _, err := buf.ReadFrom(r); err != nil {
			return nil, fmt.Errorf("decode event: decompress: %w", err)
		}
		return buf.Bytes(), nil
	default:
		return nil, fmt.Errorf("decode event: unknown body encoding %#x (written by a newer canary? use a newer canary binary)", stored[0])
	}
}

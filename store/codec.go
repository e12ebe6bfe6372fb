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
//     repeats (field names, verdicts, metrics, phases).
//
// Decoding gives back the JSON byte for byte, so the API, the report and
// the dashboard see exactly what they saw before. An evaluation event of 6
// rules shrinks from ~1.3 KB to ~0.3 KB (store/codec_test.go). A new form
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

// flateWriters are DEFLATE writers at BestSpeed. A free list, not a
// sync.Pool: a pool is emptied at every GC, and a new writer costs about
// 1 MB of allocation. It holds at most cap writers; more callers at once
// make their own.
var flateWriters = make(chan *flateWriter, 8)

type flateWriter struct {
	w   *flate.Writer
	buf bytes.Buffer
}

// compressBody appends body's stored form to dst: bodyFlateV1 and the
// compressed JSON, or the JSON itself when that is not smaller.
//
// Go's BestSpeed ignores a preset dictionary (NewWriterDict), and the
// slower levels clear 640 KB of hash tables per Reset, more than the
// compression of an event costs. So the dictionary is compressed first
// and flushed (which ends a block on a byte boundary), then the body: the
// body's blocks refer back into the dictionary the way a preset one
// would, and what follows the flush is exactly a stream that
// flate.NewReaderDict decodes with the dictionary.
func compressBody(dst []byte, body []byte) []byte {
	var fw *flateWriter
	select {
	case fw = <-flateWriters:
	default:
		fw = &flateWriter{}
		fw.w, _ = flate.NewWriter(&fw.buf, flate.BestSpeed) // cannot fail at a valid level
	}
	defer func() {
		select {
		case flateWriters <- fw:
		default:
		}
	}()
	fw.buf.Reset()
	fw.w.Reset(&fw.buf)
	_, _ = fw.w.Write(eventDict) // writes to a bytes.Buffer cannot fail
	_ = fw.w.Flush()
	n := fw.buf.Len()
	_, _ = fw.w.Write(body)
	_ = fw.w.Close()
	z := fw.buf.Bytes()[n:]
	if len(z)+1 >= len(body) {
		return append(dst, body...)
	}
	dst = append(dst, bodyFlateV1)
	return append(dst, z...)
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

package store

import "github.com/canary-dev/canary"

// appendEventJSON appends ev's JSON to dst as appendStateJSON does a
// snapshot's: byte for byte encoding/json's, or ok false. Every commit of
// an evaluation writes one (~1.4 KB for six rules). A rule's comparison
// and an action still go through encoding/json.
func appendEventJSON(dst []byte, ev *canary.Event) (_ []byte, ok bool) {
	w := jw{b: dst, ok: true}
	w.b = append(w.b, `{"seq":`...)
	w.int(ev.Seq)
	w.key(`"time":`)
	w.time(ev.Time)
	w.key(`"rollout":`)
	w.str(ev.Rollout)
	w.key(`"type":`)
	w.str(string(ev.Type))
	w.key(`"phase":`)
	w.str(string(ev.Phase))
	w.key(`"step":`)
	w.int(int64(ev.Step))
	w.key(`"weight":`)
	w.int(int64(ev.Weight))
	w.strE(`"urgency":`, string(ev.Urgency))
	w.key(`"message":`)
	w.str(ev.Message)
	w.strE(`"rule":`, ev.Rule)
	if len(ev.Evaluations) > 0 {
		w.key(`"evaluations":[`)
		for i := range ev.Evaluations {
			if i > 0 {
				w.b = append(w.b, ',')
			}
			w.evaluation(&ev.Evaluations[i])
		}
		w.b = append(w.b, ']')
	}
	if ev.Action != nil {
		w.key(`"action":`)
		w.marshal(ev.Action)
	}
	w.strE(`"error":`, ev.Error)
	w.strE(`"actor":`, ev.Actor)
	w.b = append(w.b, '}')
	return w.b, w.ok
}

func (w *jw) evaluation(e *canary.Evaluation) {
	w.b = append(w.b, `{"rule":`...)
	w.str(e.Rule)
	w.key(`"metric":`)
	w.str(string(e.Metric))
	w.key(`"window":`)
	w.int(int64(e.Window))
	w.key(`"value":`)
	w.float(e.Value)
	w.key(`"samples":`)
	w.int(e.Samples)
	w.key(`"threshold":`)
	w.float(e.Threshold)
	w.key(`"op":`)
	w.str(e.Op)
	w.key(`"verdict":`)
	w.str(string(e.Verdict))
	if e.Stable != nil {
		w.key(`"stable":`)
		w.float(*e.Stable)
	}
	w.intE(`"pendingFor":`, int64(e.PendingFor))
	w.boolE(`"firing":`, e.Firing)
	w.strE(`"detail":`, e.Detail)
	w.intE(`"shortWindow":`, int64(e.ShortWindow))
	if e.ShortValue != nil {
		w.key(`"shortValue":`)
		w.float(*e.ShortValue)
	}
	if e.Comparison != nil {
		w.key(`"comparison":`)
		w.marshal(e.Comparison)
	}
	w.b = append(w.b, '}')
}

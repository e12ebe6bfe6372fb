package web

import (
	"testing"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/engine"
)

// FuzzDecodeControl: any body is a command or an invalid-input error,
// never a panic; what is accepted is within the limits.
func FuzzDecodeControl(f *testing.F) {
	for _, s := range []string{"", "{}", "null", `{"full":true}`, `{"immediate":true,"reason":"why"}`,
		`{"reason":"a\nb"}`, `{"x":1}`, `[`, `{} {}`, `"s"`, `{"reason":"\u0000"}`, `{"full":"yes"}`} {
		f.Add(0, []byte(s))
		f.Add(4, []byte(s))
	}
	kinds := []engine.CommandKind{engine.CmdPause, engine.CmdResume, engine.CmdPromote,
		engine.CmdApprove, engine.CmdAbort, engine.CmdRetry}
	f.Fuzz(func(t *testing.T, k int, body []byte) {
		kind := kinds[uint(k)%uint(len(kinds))]
		cmd, err := decodeControl(kind, body)
		if err != nil {
			if code := canary.ErrorCode(err); code != canary.EINVALID {
				t.Fatalf("error code %q for %q: %v", code, body, err)
			}
			return
		}
		if cmd.Kind != kind || len(cmd.Reason) > MaxReason || (cmd.Full && kind != engine.CmdPromote) ||
			(cmd.Immediate && kind != engine.CmdAbort) || cmd.Actor != "" {
			t.Fatalf("accepted %q as %+v", body, cmd)
		}
	})
}

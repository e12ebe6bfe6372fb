package checks

// MaxErrorOutput caps an error message a check returns (4 KiB), like
// MaxCommandOutput caps a command's output.
const MaxErrorOutput = 4 << 10

// clean applies r.Redact to what a check returns and bounds the error
// message: outputs and errors both become events that viewers read.
func (r *Runner) clean(out string, err error) (string, error) {
	if r == nil || r.Redact == nil {
		if err != nil && len(err.Error()) > MaxErrorOutput {
			err = &cleanError{msg: truncate(err.Error(), MaxErrorOutput), err: err}
		}
		return out, err
	}
	out = r.Redact(out)
	if err != nil {
		if msg := truncate(r.Redact(err.Error()), MaxErrorOutput); msg != err.Error() {
			err = &cleanError{msg: msg, err: err}
		}
	}
	return out, err
}

// cleanError is an error with its message redacted or shortened; it
// still unwraps to the original, so errors.Is(err, context.Canceled)
// keeps working.
type cleanError struct {
	msg string
	err error
}

func (e *cleanError) Error() string { return e.msg }
func (e *cleanError) Unwrap() error { return e.err }

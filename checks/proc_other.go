//go:build !unix

package checks

import "os/exec"

// killGroupOnCancel keeps exec's default on systems without process
// groups: cancellation kills the command's own process only.
func killGroupOnCancel(cmd *exec.Cmd) {}

//go:build !linux

package store

// readOnlyFS reports false: only Linux is asked (statfs ST_RDONLY).
func readOnlyFS(string) bool { return false }

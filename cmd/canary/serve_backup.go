package main

import (
	"fmt"
	"os"

	"github.com/canary-dev/canary/store"
	"github.com/spf13/cobra"
)

// newServeBackupCmd is `canary serve backup FILE`: an online backup of the
// state database beside a running server.
func newServeBackupCmd() *cobra.Command {
	state := defaultStatePath("serve.db")
	c := &cobra.Command{
		Use:   "backup FILE",
		Short: "Copy the state database consistently while canary serve runs",
		Long: `Backup writes a consistent copy of the state database (--state) to FILE,
while canary serve keeps running on it: SQLite's VACUUM INTO in one read
transaction, so the copy is the database as of one moment, with every
committed decision up to then. It does not take the server's state lock.
FILE is replaced atomically (written beside it, checked, renamed).

Restore: stop canary serve, copy the backup to its --state path (remove
STATE-wal and STATE-shm beside it if present) and start it: it resumes the
rollouts that were running at the backup's moment.`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if err := store.Backup(c.Context(), state, args[0]); err != nil {
				return err
			}
			st, err := os.Stat(args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(c.OutOrStdout(), "backed up %s to %s (%d bytes)\n", state, args[0], st.Size())
			return nil
		},
	}
	c.Flags().StringVar(&state, "state", state, "the state database")
	return c
}

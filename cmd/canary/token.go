package main

import (
	"fmt"

	"github.com/canary-dev/canary/web"
	"github.com/spf13/cobra"
)

// newTokenCmd is `canary token create`: a new random API token secret.
func newTokenCmd() *cobra.Command {
	c := &cobra.Command{Use: "token", Short: "Make API tokens for canary serve"}
	var name, role string
	create := &cobra.Command{
		Use:   "create",
		Short: "Print a new random API token secret (with --name: a tokens-file line)",
		Long: `Create prints a new random secret for canary serve's tokens: 32 bytes
from the system's random source in base64url (43 characters of A-Z a-z
0-9 - _). serve accepts secrets of at least 32 such characters.

With --name it prints a whole line of the tokens file, name:role:secret:

  canary token create --name ci --role viewer >> tokens
  kill -HUP $(pidof canary)     # serve reloads its tokens file`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			secret := web.NewSecret()
			if name == "" {
				fmt.Fprintln(c.OutOrStdout(), secret)
				return nil
			}
			line := name + ":" + role + ":" + secret
			if _, err := web.ParseTokens(line); err != nil {
				return usageError{fmt.Errorf("--name %q --role %q: %v", name, role, err)}
			}
			fmt.Fprintln(c.OutOrStdout(), line)
			return nil
		},
	}
	create.Flags().StringVar(&name, "name", "", "the token's name (1 to 64 letters, digits and ._@-): print name:role:secret")
	create.Flags().StringVar(&role, "role", string(web.RoleViewer), "the token's role with --name: viewer or operator")
	c.AddCommand(create)
	return c
}

package main

import "github.com/spf13/cobra"

// addMoreCommands registers the commands of the later pipeline stages.
func (a *app) addMoreCommands(root *cobra.Command) {
	root.AddCommand(a.buildCmd(), a.publishCmd(), a.inspectCmd(), a.checkCmd(), a.smokeCmd(), a.releaseCmd())
}

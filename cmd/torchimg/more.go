package main

import "github.com/spf13/cobra"

// addMoreCommands registers the commands of later stages.
func (a *app) addMoreCommands(root *cobra.Command) {
	root.AddCommand(a.buildCmd())
}

func (a *app) addPlanDiffFlags(cmd *cobra.Command) {}

func (a *app) planDiff(cmd *cobra.Command, _ any) error {
	return usageErrorf("--diff needs --registry")
}

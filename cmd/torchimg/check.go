package main

import "github.com/spf13/cobra"

// checkCmd is implemented in this file (torchimg check).
func (a *app) checkCmd() *cobra.Command {
	return &cobra.Command{Use: "check [IMAGE]", Short: "(not yet implemented)", Hidden: true}
}

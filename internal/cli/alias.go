package cli

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/spf13/cobra"
)

// This file holds the commands that release code: "aloft function
// publish" and "aloft alias".

func init() { extraCommands = append(extraCommands, (*env).aliasCmd) }

func (e *env) publishCmd() *cobra.Command {
	var description string
	cmd := &cobra.Command{
		Use:   "publish NAME [--description TEXT]",
		Short: "Publish the function's current code and configuration as a new version",
		Long: `Publish $LATEST as a new numbered version that never changes. When
nothing changed since the last version, that version is printed again.`,
		Example: `  aloft function publish hello --description "first release"`,
		Args:    nameArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.connect()
			if err != nil {
				return err
			}
			in := &lambda.PublishVersionInput{FunctionName: aws.String(args[0])}
			if description != "" {
				in.Description = aws.String(description)
			}
			v, err := c.Lambda.PublishVersion(cmd.Context(), in)
			if err != nil {
				return notFound(err, args[0])
			}
			_, err = fmt.Fprintf(e.stdout, "published %s version %s\n", args[0], aws.ToString(v.Version))
			return err
		},
	}
	cmd.Flags().StringVar(&description, "description", "", "`TEXT` describing the version")
	return cmd
}

func (e *env) aliasCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "alias",
		Short: "Name versions of a function, and shift traffic between them",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErrorf(cmd, "unknown command %q for %q", args[0], cmd.CommandPath())
			}
			return cmd.Help()
		},
	}
	cmd.AddCommand(e.aliasPutCmd(true), e.aliasPutCmd(false), e.aliasListCmd(), e.aliasDeleteCmd())
	return cmd
}

// twoArgs takes a function and an alias name.
func twoArgs(cmd *cobra.Command, args []string) error {
	if len(args) != 2 || args[0] == "" || args[1] == "" {
		return usageErrorf(cmd, "want a function name and an alias name")
	}
	return nil
}

// parseWeight reads --weight VERSION=SHARE (a share from 0 to 1).
func parseWeight(cmd *cobra.Command, v string) (*types.AliasRoutingConfiguration, error) {
	if v == "" {
		return nil, nil
	}
	if v == "none" {
		return &types.AliasRoutingConfiguration{AdditionalVersionWeights: map[string]float64{}}, nil
	}
	ver, share, ok := strings.Cut(v, "=")
	w, err := strconv.ParseFloat(share, 64)
	if !ok || ver == "" || err != nil {
		return nil, usageErrorf(cmd, "--weight wants VERSION=SHARE, e.g. 2=0.1, or none")
	}
	return &types.AliasRoutingConfiguration{AdditionalVersionWeights: map[string]float64{ver: w}}, nil
}

func (e *env) aliasPutCmd(create bool) *cobra.Command {
	var version, weight, description string
	use, short := "update NAME ALIAS [--version N] [--weight V=SHARE|none]", "Point an alias at another version, or change its weights"
	if create {
		use, short = "create NAME ALIAS --version N [--weight V=SHARE]", "Create an alias of a version"
	}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Long: `An alias names a version of a function: "aloft invoke NAME:ALIAS" runs it.
With --weight V=SHARE, that share (0 to 1) of the invocations goes to
version V instead, for a canary; --weight none sends them all to --version
again.`,
		Example: `  aloft alias create hello live --version 1
  aloft alias update hello live --weight 2=0.1
  aloft alias update hello live --version 2 --weight none`,
		Args: twoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			rc, err := parseWeight(cmd, weight)
			if err != nil {
				return err
			}
			if create && version == "" {
				return usageErrorf(cmd, "missing --version")
			}
			c, err := e.connect()
			if err != nil {
				return err
			}
			opt := func(s string) *string {
				if s == "" {
					return nil
				}
				return aws.String(s)
			}
			var out string
			if create {
				a, err := c.Lambda.CreateAlias(cmd.Context(), &lambda.CreateAliasInput{FunctionName: aws.String(args[0]), Name: aws.String(args[1]),
					FunctionVersion: aws.String(version), Description: opt(description), RoutingConfig: rc})
				if err != nil {
					return notFound(err, args[0]+":"+version)
				}
				out = describeAlias(aws.ToString(a.AliasArn), aws.ToString(a.FunctionVersion), a.RoutingConfig)
			} else {
				a, err := c.Lambda.UpdateAlias(cmd.Context(), &lambda.UpdateAliasInput{FunctionName: aws.String(args[0]), Name: aws.String(args[1]),
					FunctionVersion: opt(version), Description: opt(description), RoutingConfig: rc})
				if err != nil {
					return notFound(err, args[0]+":"+args[1]+" (or its version)")
				}
				out = describeAlias(aws.ToString(a.AliasArn), aws.ToString(a.FunctionVersion), a.RoutingConfig)
			}
			_, err = fmt.Fprintln(e.stdout, out)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&version, "version", "", "`N`, the version the alias names")
	f.StringVar(&weight, "weight", "", "`V=SHARE`: send SHARE (0 to 1) of the invocations to version V; none removes it")
	f.StringVar(&description, "description", "", "`TEXT` describing the alias")
	return cmd
}

// describeAlias is one line saying where an alias sends invocations.
func describeAlias(arn, version string, rc *types.AliasRoutingConfiguration) string {
	s := arn + " -> " + version
	if rc != nil {
		for v, w := range rc.AdditionalVersionWeights {
			s += fmt.Sprintf(" (%g%% to %s)", w*100, v)
		}
	}
	return s
}

func (e *env) aliasListCmd() *cobra.Command {
	var out *outputFormat
	cmd := &cobra.Command{
		Use:     "list NAME",
		Aliases: []string{"ls"},
		Short:   "List a function's aliases",
		Args:    nameArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.connect()
			if err != nil {
				return err
			}
			var all []types.AliasConfiguration
			pages := lambda.NewListAliasesPaginator(c.Lambda, &lambda.ListAliasesInput{FunctionName: aws.String(args[0])})
			for pages.HasMorePages() {
				page, err := pages.NextPage(cmd.Context())
				if err != nil {
					return notFound(err, args[0])
				}
				all = append(all, page.Aliases...)
			}
			if *out == outputJSON {
				return writeJSON(e.stdout, all)
			}
			t := newTable(e.stdout, 3)
			t.AppendHeader(tableRow("ALIAS", "VERSION", "ROUTING"))
			for _, a := range all {
				routing := ""
				if a.RoutingConfig != nil {
					for v, w := range a.RoutingConfig.AdditionalVersionWeights {
						routing = fmt.Sprintf("%g%% to %s", w*100, v)
					}
				}
				t.AppendRow(tableRow(aws.ToString(a.Name), aws.ToString(a.FunctionVersion), routing))
			}
			t.Render()
			return nil
		},
	}
	out = addOutputFlag(cmd)
	return cmd
}

func (e *env) aliasDeleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "delete NAME ALIAS",
		Aliases: []string{"rm"},
		Short:   "Delete an alias",
		Args:    twoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.connect()
			if err != nil {
				return err
			}
			if _, err := c.Lambda.DeleteAlias(cmd.Context(), &lambda.DeleteAliasInput{FunctionName: aws.String(args[0]), Name: aws.String(args[1])}); err != nil {
				return notFound(err, args[0])
			}
			_, err = fmt.Fprintf(e.stdout, "deleted alias %s:%s\n", args[0], args[1])
			return err
		},
	}
}

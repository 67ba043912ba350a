package cli

import (
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/spf13/cobra"

	"github.com/aloft-dev/aloft/internal/client"
	"github.com/aloft-dev/aloft/internal/function"
)

func init() { extraCommands = append(extraCommands, (*env).layerCmd) }

func (e *env) layerCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "layer",
		Aliases: []string{"layers"},
		Short:   "Publish and list layers: code and libraries functions share under /opt",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErrorf(cmd, "unknown command %q for %q", args[0], cmd.CommandPath())
			}
			return cmd.Help()
		},
	}
	cmd.AddCommand(e.layerPublishCmd(), e.layerListCmd())
	return cmd
}

func (e *env) layerPublishCmd() *cobra.Command {
	var (
		zipPath, dir, description, license string
		runtimes, archs                    []string
		out                                *outputFormat
	)
	cmd := &cobra.Command{
		Use:   "publish NAME (--zip FILE | --dir DIR)",
		Short: "Publish a new version of a layer",
		Long: `Publish a new version of a layer from a .zip file or a directory (zipped
for upload, keeping file modes). Functions given the version with --layer see
its files under /opt, as on Lambda: Python packages under python/, Node.js
modules under nodejs/node_modules/, programs under bin/, libraries under lib/.
--runtime (repeatable) lists the runtimes the layer is for; a function of
another runtime is then refused it.`,
		Example: `  aloft layer publish deps --dir ./layer --runtime python3.12
  aloft function create app --runtime python3.12 --handler app.handler --code ./app --layer ARN`,
		Args: nameArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			if (zipPath == "") == (dir == "") {
				return usageErrorf(cmd, "give one of --zip and --dir")
			}
			var zip []byte
			var err error
			if dir != "" {
				st, serr := os.Stat(dir)
				if serr != nil || !st.IsDir() {
					return fmt.Errorf("layer %s: not a directory", dir)
				}
				zip, err = client.LoadCode(dir)
			} else {
				zip, err = client.LoadCode(zipPath)
			}
			if err != nil {
				return err
			}
			in := &lambda.PublishLayerVersionInput{LayerName: aws.String(args[0]), Content: &types.LayerVersionContentInput{ZipFile: zip}}
			for _, r := range runtimes {
				in.CompatibleRuntimes = append(in.CompatibleRuntimes, types.Runtime(r))
			}
			for _, a := range archs {
				in.CompatibleArchitectures = append(in.CompatibleArchitectures, types.Architecture(a))
			}
			if description != "" {
				in.Description = aws.String(description)
			}
			if license != "" {
				in.LicenseInfo = aws.String(license)
			}
			c, err := e.connect()
			if err != nil {
				return err
			}
			res, err := c.Lambda.PublishLayerVersion(cmd.Context(), in)
			if err != nil {
				return err
			}
			if *out == outputJSON {
				return writeJSON(e.stdout, res)
			}
			var rts []string
			for _, r := range res.CompatibleRuntimes {
				rts = append(rts, string(r))
			}
			writeDetails(e.stdout, []field{
				{"ARN", aws.ToString(res.LayerVersionArn)},
				{"Version", fmt.Sprint(res.Version)},
				{"Description", aws.ToString(res.Description)},
				{"Runtimes", fmt.Sprint(rts)},
				{"Code size", client.FormatBytes(res.Content.CodeSize)},
				{"Code SHA-256", aws.ToString(res.Content.CodeSha256)},
			})
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&zipPath, "zip", "", "`FILE`: the layer's .zip archive")
	f.StringVar(&dir, "dir", "", "`DIR`: a directory to zip as the layer")
	f.StringArrayVar(&runtimes, "runtime", nil, "compatible `RUNTIME` (repeatable)")
	f.StringArrayVar(&archs, "architecture", nil, "compatible `ARCH`, x86_64 or arm64 (repeatable)")
	f.StringVar(&description, "description", "", "`TEXT` describing the version")
	f.StringVar(&license, "license", "", "`TEXT`: the layer's license")
	_ = cmd.RegisterFlagCompletionFunc("runtime", cobra.FixedCompletions(function.Runtimes, cobra.ShellCompDirectiveNoFileComp))
	out = addOutputFlag(cmd)
	return cmd
}

func (e *env) layerListCmd() *cobra.Command {
	var (
		runtime string
		out     *outputFormat
	)
	cmd := &cobra.Command{
		Use:   "list [NAME]",
		Short: "List layers with their latest versions, or the versions of one layer",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.connect()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			var items []types.LayerVersionsListItem
			var names []string
			if len(args) == 1 {
				p := lambda.NewListLayerVersionsPaginator(c.Lambda, &lambda.ListLayerVersionsInput{LayerName: aws.String(args[0]), CompatibleRuntime: types.Runtime(runtime)})
				for p.HasMorePages() {
					page, err := p.NextPage(ctx)
					if err != nil {
						return err
					}
					for _, it := range page.LayerVersions {
						items, names = append(items, it), append(names, args[0])
					}
				}
			} else {
				p := lambda.NewListLayersPaginator(c.Lambda, &lambda.ListLayersInput{CompatibleRuntime: types.Runtime(runtime)})
				for p.HasMorePages() {
					page, err := p.NextPage(ctx)
					if err != nil {
						return err
					}
					for _, l := range page.Layers {
						if l.LatestMatchingVersion != nil {
							items, names = append(items, *l.LatestMatchingVersion), append(names, aws.ToString(l.LayerName))
						}
					}
				}
			}
			if *out == outputJSON {
				return writeJSON(e.stdout, items)
			}
			t := newTable(e.stdout, 5, 2)
			t.AppendHeader(tableRow("LAYER", "VERSION", "RUNTIMES", "CREATED", "ARN"))
			for i, it := range items {
				var rts []string
				for _, r := range it.CompatibleRuntimes {
					rts = append(rts, string(r))
				}
				t.AppendRow(tableRow(names[i], fmt.Sprint(it.Version), fmt.Sprint(rts), formatLambdaTime(aws.ToString(it.CreatedDate)), aws.ToString(it.LayerVersionArn)))
			}
			t.Render()
			return nil
		},
	}
	cmd.Flags().StringVar(&runtime, "runtime", "", "list only versions compatible with `RUNTIME`")
	out = addOutputFlag(cmd)
	return cmd
}

// layerList renders a function's layers for its details, one a line.
func layerList(ls []types.Layer) string {
	var out []string
	for _, l := range ls {
		out = append(out, aws.ToString(l.Arn))
	}
	return strings.Join(out, "\n")
}

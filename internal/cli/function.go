package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/spf13/cobra"

	"github.com/aloft-dev/aloft/internal/client"
	"github.com/aloft-dev/aloft/internal/function"
)

// DefaultRole is the execution role sent when none is given: the Lambda API
// requires one, and Aloft does not use it.
const DefaultRole = function.DefaultRole

func (e *env) functionCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "function",
		Aliases: []string{"functions", "fn"},
		Short:   "Create, change, inspect and delete functions",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErrorf(cmd, "unknown command %q for %q", args[0], cmd.CommandPath())
			}
			return cmd.Help()
		},
	}
	cmd.AddCommand(e.createCmd(), e.updateCmd(), e.getCmd(), e.listCmd(), e.deleteCmd(), e.publishCmd())
	return cmd
}

// configFlags are the configuration flags create and update share.
type configFlags struct {
	runtime, handler, role, description string
	memory, timeout, ephemeral          int32
	env                                 []string
	layers                              []string // layer version ARNs
}

// register adds the flags to cmd. withDefaults shows the server's defaults
// in the help (for create; update changes only what is given).
func (c *configFlags) register(cmd *cobra.Command, envHelp string, withDefaults bool) {
	var memory, timeout, ephemeral int32
	if withDefaults {
		memory, timeout, ephemeral = function.DefaultMemory, function.DefaultTimeout, function.DefaultEphemeral
	}
	f := cmd.Flags()
	f.StringVar(&c.runtime, "runtime", "", "`RUNTIME`, one of "+strings.Join(function.Runtimes, ", "))
	f.StringVar(&c.handler, "handler", "", "`HANDLER` to call, e.g. app.handler (python), index.handler (nodejs)")
	f.Int32Var(&c.memory, "memory", memory, fmt.Sprintf("memory in `MB` (%d to %d)", function.MinMemory, function.MaxMemory))
	f.Int32Var(&c.timeout, "timeout", timeout, fmt.Sprintf("timeout in `SECONDS` (%d to %d)", function.MinTimeout, function.MaxTimeout))
	f.StringArrayVar(&c.env, "env", nil, envHelp)
	f.StringVar(&c.description, "description", "", "`TEXT` describing the function")
	f.StringArrayVar(&c.layers, "layer", nil, "layer version `ARN` (repeatable, up to 5, in order; on update, replaces the function's layers, and --layer '' removes them)")
	f.Int32Var(&c.ephemeral, "ephemeral-storage", ephemeral, fmt.Sprintf("size of /tmp in `MB` (%d to %d)", function.MinEphemeral, function.MaxEphemeral))
	role := "execution role `ARN`"
	if withDefaults {
		role += " (default " + DefaultRole + ")"
	}
	f.StringVar(&c.role, "role", "", role)
	_ = cmd.RegisterFlagCompletionFunc("runtime", cobra.FixedCompletions(function.Runtimes, cobra.ShellCompDirectiveNoFileComp))
}

// layerARNs returns the --layer arguments, without empty ones.
func (c *configFlags) layerARNs() []string {
	var out []string
	for _, l := range c.layers {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

// parseEnv turns the --env KEY=VALUE arguments into a map.
func parseEnv(cmd *cobra.Command, pairs []string) (map[string]string, error) {
	return parsePairs(cmd, "--env", pairs)
}

// parsePairs turns KEY=VALUE arguments of flag into a map.
func parsePairs(cmd *cobra.Command, flag string, pairs []string) (map[string]string, error) {
	vars := make(map[string]string, len(pairs))
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" {
			return nil, usageErrorf(cmd, "%s %q: expected KEY=VALUE", flag, p)
		}
		vars[k] = v
	}
	return vars, nil
}

func (e *env) createCmd() *cobra.Command {
	var (
		cfg     configFlags
		code    string
		network string
		tags    []string
		out     *outputFormat
	)
	cmd := &cobra.Command{
		Use:   "create NAME --runtime RUNTIME --handler HANDLER --code PATH",
		Short: "Create a function",
		Long: `Create a function from code on this machine.

--code is a directory (zipped for upload, keeping file modes), a .zip file
(sent as it is) or a single executable named bootstrap (for provided runtimes).
Flags left out take the server's defaults. --handler may be left out for
provided runtimes, where it defaults to "bootstrap". --network none gives the
function's instances no network but their Runtime API (the tag
aloft:network=none, which "aws lambda tag-resource" can change later).`,
		Example: `  aloft function create hello --runtime python3.12 --handler app.handler --code ./hello
  aloft function create api --runtime provided.al2023 --code ./build/bootstrap --memory 256 --env STAGE=dev`,
		Args: nameArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			f := cmd.Flags()
			if cfg.handler == "" {
				if !strings.HasPrefix(cfg.runtime, "provided") {
					return usageErrorf(cmd, "--handler is required for runtime %s", cfg.runtime)
				}
				cfg.handler = "bootstrap"
			}
			vars, err := parseEnv(cmd, cfg.env)
			if err != nil {
				return err
			}
			tagMap, err := parsePairs(cmd, "--tag", tags)
			if err != nil {
				return err
			}
			switch network {
			case "":
			case function.NetworkNone, function.NetworkDefault:
				tagMap[function.NetworkTag] = network
			default:
				return usageErrorf(cmd, "--network %q: want %s or %s", network, function.NetworkDefault, function.NetworkNone)
			}
			zip, err := client.LoadCode(code)
			if err != nil {
				return err
			}
			in := &lambda.CreateFunctionInput{
				FunctionName: aws.String(name),
				Runtime:      types.Runtime(cfg.runtime),
				Handler:      aws.String(cfg.handler),
				Role:         aws.String(DefaultRole),
				Code:         &types.FunctionCode{ZipFile: zip},
			}
			if cfg.role != "" {
				in.Role = aws.String(cfg.role)
			}
			if f.Changed("memory") {
				in.MemorySize = aws.Int32(cfg.memory)
			}
			if f.Changed("timeout") {
				in.Timeout = aws.Int32(cfg.timeout)
			}
			if f.Changed("ephemeral-storage") {
				in.EphemeralStorage = &types.EphemeralStorage{Size: aws.Int32(cfg.ephemeral)}
			}
			if f.Changed("description") {
				in.Description = aws.String(cfg.description)
			}
			if len(vars) > 0 {
				in.Environment = &types.Environment{Variables: vars}
			}
			if len(tagMap) > 0 {
				in.Tags = tagMap
			}
			in.Layers = cfg.layerARNs()
			c, err := e.connect()
			if err != nil {
				return err
			}
			res, err := c.Lambda.CreateFunction(cmd.Context(), in)
			if apiCode(err) == "ResourceConflictException" {
				return fmt.Errorf("function %q already exists (change it with \"aloft function update\")", name)
			}
			if err != nil {
				return err
			}
			return e.printConfig(*out, asConfig(res))
		},
	}
	cfg.register(cmd, "environment variable `KEY=VALUE` (repeatable)", true)
	cmd.Flags().StringVar(&code, "code", "", "`PATH` of the code: a directory, a .zip file or a bootstrap executable")
	cmd.Flags().StringVar(&network, "network", "", "`MODE` of the instances' network: default (outbound allowed) or none")
	cmd.Flags().StringArrayVar(&tags, "tag", nil, "tag `KEY=VALUE` (repeatable)")
	_ = cmd.MarkFlagRequired("runtime")
	_ = cmd.MarkFlagRequired("code")
	out = addOutputFlag(cmd)
	return cmd
}

func (e *env) updateCmd() *cobra.Command {
	var (
		cfg      configFlags
		code     string
		clearEnv bool
		out      *outputFormat
	)
	cmd := &cobra.Command{
		Use:   "update NAME [--code PATH] [configuration flags]",
		Short: "Change a function's code or configuration",
		Long: `Change a function's code, its configuration, or both.

--code uploads new code (a directory, a .zip file or a bootstrap executable).
The configuration flags change only what they name. --env replaces the whole
environment: give every variable the function should keep, or --clear-env to
remove them all.`,
		Example: `  aloft function update hello --code ./hello
  aloft function update hello --memory 512 --timeout 30
  aloft function update hello --env STAGE=prod --env DEBUG=0`,
		Args: nameArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			f := cmd.Flags()
			newCode := f.Changed("code")
			newConfig := false
			for _, fl := range []string{"runtime", "handler", "memory", "timeout", "env", "clear-env", "description", "ephemeral-storage", "role", "layer"} {
				newConfig = newConfig || f.Changed(fl)
			}
			if !newCode && !newConfig {
				return usageErrorf(cmd, "nothing to update: give --code or a configuration flag")
			}
			if clearEnv && len(cfg.env) > 0 {
				return usageErrorf(cmd, "--env and --clear-env exclude each other")
			}
			vars, err := parseEnv(cmd, cfg.env)
			if err != nil {
				return err
			}
			var zip []byte
			if newCode {
				if zip, err = client.LoadCode(code); err != nil {
					return err
				}
			}
			c, err := e.connect()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			var conf types.FunctionConfiguration
			if newCode {
				res, err := c.Lambda.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{
					FunctionName: aws.String(name),
					ZipFile:      zip,
				})
				if err != nil {
					return notFound(err, name)
				}
				conf = asConfig(res)
			}
			if newConfig {
				in := &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String(name)}
				if f.Changed("runtime") {
					in.Runtime = types.Runtime(cfg.runtime)
				}
				if f.Changed("handler") {
					in.Handler = aws.String(cfg.handler)
				}
				if f.Changed("memory") {
					in.MemorySize = aws.Int32(cfg.memory)
				}
				if f.Changed("timeout") {
					in.Timeout = aws.Int32(cfg.timeout)
				}
				if f.Changed("ephemeral-storage") {
					in.EphemeralStorage = &types.EphemeralStorage{Size: aws.Int32(cfg.ephemeral)}
				}
				if f.Changed("description") {
					in.Description = aws.String(cfg.description)
				}
				if f.Changed("role") {
					in.Role = aws.String(cfg.role)
				}
				if f.Changed("env") || clearEnv {
					in.Environment = &types.Environment{Variables: vars}
				}
				if f.Changed("layer") {
					in.Layers = append([]string{}, cfg.layerARNs()...) // empty, not nil: removes them
				}
				res, err := e.updateConfig(ctx, c, in, newCode && conf.LastUpdateStatus == types.LastUpdateStatusInProgress)
				if err != nil {
					err = notFound(err, name)
					if newCode {
						err = &stepError{"the code was updated, but not the configuration", err}
					}
					return err
				}
				conf = res
			}
			return e.printConfig(*out, conf)
		},
	}
	cfg.register(cmd, "environment variable `KEY=VALUE` (repeatable); replaces all existing variables", false)
	cmd.Flags().StringVar(&code, "code", "", "`PATH` of the new code: a directory, a .zip file or a bootstrap executable")
	cmd.Flags().BoolVar(&clearEnv, "clear-env", false, "remove all environment variables")
	out = addOutputFlag(cmd)
	return cmd
}

// updateConfig sends a configuration update; when wait is set, a code
// update is still being applied and the function is polled until it is done.
func (e *env) updateConfig(ctx context.Context, c *client.Client, in *lambda.UpdateFunctionConfigurationInput, wait bool) (types.FunctionConfiguration, error) {
	deadline := e.now().Add(time.Minute)
	for wait {
		select {
		case <-ctx.Done():
			return types.FunctionConfiguration{}, ctx.Err()
		case <-time.After(e.pollInterval / 2):
		}
		got, err := c.Lambda.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: in.FunctionName})
		if err != nil {
			return types.FunctionConfiguration{}, err
		}
		wait = got.LastUpdateStatus == types.LastUpdateStatusInProgress
		if wait && e.now().After(deadline) {
			return types.FunctionConfiguration{}, errors.New("the code update is still in progress after a minute")
		}
	}
	res, err := c.Lambda.UpdateFunctionConfiguration(ctx, in)
	if err != nil {
		return types.FunctionConfiguration{}, err
	}
	return asConfig(res), nil
}

func (e *env) getCmd() *cobra.Command {
	var out *outputFormat
	cmd := &cobra.Command{
		Use:   "get NAME",
		Short: "Show a function's configuration",
		Args:  nameArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.connect()
			if err != nil {
				return err
			}
			res, err := c.Lambda.GetFunction(cmd.Context(), &lambda.GetFunctionInput{FunctionName: aws.String(args[0])})
			if err != nil {
				return notFound(err, args[0])
			}
			if *out == outputJSON {
				return writeJSON(e.stdout, struct {
					Configuration *types.FunctionConfiguration
					Code          *types.FunctionCodeLocation
					Tags          map[string]string
				}{res.Configuration, res.Code, res.Tags})
			}
			var conf types.FunctionConfiguration
			if res.Configuration != nil {
				conf = *res.Configuration
			}
			writeDetails(e.stdout, configFields(conf))
			return nil
		},
	}
	out = addOutputFlag(cmd)
	return cmd
}

func (e *env) listCmd() *cobra.Command {
	var out *outputFormat
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List functions",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.connect()
			if err != nil {
				return err
			}
			fns := []types.FunctionConfiguration{}
			pages := lambda.NewListFunctionsPaginator(c.Lambda, &lambda.ListFunctionsInput{}, func(o *lambda.ListFunctionsPaginatorOptions) {
				o.StopOnDuplicateToken = true
			})
			for pages.HasMorePages() {
				page, err := pages.NextPage(cmd.Context())
				if err != nil {
					return err
				}
				fns = append(fns, page.Functions...)
			}
			if *out == outputJSON {
				return writeJSON(e.stdout, fns)
			}
			t := newTable(e.stdout, 6, 3, 4, 5)
			t.AppendHeader(tableRow("NAME", "RUNTIME", "MEMORY", "TIMEOUT", "CODE SIZE", "LAST MODIFIED"))
			for _, fn := range fns {
				t.AppendRow(tableRow(
					aws.ToString(fn.FunctionName),
					string(fn.Runtime),
					megabytes(fn.MemorySize),
					seconds(fn.Timeout),
					client.FormatBytes(fn.CodeSize),
					formatLambdaTime(aws.ToString(fn.LastModified)),
				))
			}
			t.Render()
			return nil
		},
	}
	out = addOutputFlag(cmd)
	return cmd
}

func (e *env) deleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "delete NAME",
		Aliases: []string{"rm"},
		Short:   "Delete a function",
		Args:    nameArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.connect()
			if err != nil {
				return err
			}
			_, err = c.Lambda.DeleteFunction(cmd.Context(), &lambda.DeleteFunctionInput{FunctionName: aws.String(args[0])})
			if err != nil {
				return notFound(err, args[0])
			}
			_, err = fmt.Fprintf(e.stdout, "deleted function %s\n", args[0])
			return err
		},
	}
}

// asConfig reads the configuration out of any output that has the fields of
// a FunctionConfiguration (CreateFunction, UpdateFunctionCode, ...).
func asConfig(v any) types.FunctionConfiguration {
	var conf types.FunctionConfiguration
	if raw, err := json.Marshal(v); err == nil {
		_ = json.Unmarshal(raw, &conf)
	}
	return conf
}

// printConfig prints a function configuration as details or JSON.
func (e *env) printConfig(out outputFormat, conf types.FunctionConfiguration) error {
	if out == outputJSON {
		return writeJSON(e.stdout, conf)
	}
	writeDetails(e.stdout, configFields(conf))
	return nil
}

// configFields are the lines of a function's details table.
func configFields(c types.FunctionConfiguration) []field {
	var env []string
	if c.Environment != nil {
		for k, v := range c.Environment.Variables {
			env = append(env, k+"="+v)
		}
		sort.Strings(env)
	}
	var ephemeral *int32
	if c.EphemeralStorage != nil {
		ephemeral = c.EphemeralStorage.Size
	}
	state := string(c.State)
	if c.StateReason != nil && *c.StateReason != "" {
		state += " (" + *c.StateReason + ")"
	}
	update := string(c.LastUpdateStatus)
	if c.LastUpdateStatusReason != nil && *c.LastUpdateStatusReason != "" {
		update += " (" + *c.LastUpdateStatusReason + ")"
	}
	codeSize := ""
	if c.CodeSize > 0 {
		codeSize = client.FormatBytes(c.CodeSize)
	}
	return []field{
		{"Name", aws.ToString(c.FunctionName)},
		{"ARN", aws.ToString(c.FunctionArn)},
		{"Description", aws.ToString(c.Description)},
		{"Runtime", string(c.Runtime)},
		{"Handler", aws.ToString(c.Handler)},
		{"Memory", megabytes(c.MemorySize)},
		{"Timeout", seconds(c.Timeout)},
		{"Ephemeral storage", megabytes(ephemeral)},
		{"Code size", codeSize},
		{"Code SHA-256", aws.ToString(c.CodeSha256)},
		{"Environment", strings.Join(env, "\n")},
		{"Layers", layerList(c.Layers)},
		{"Role", aws.ToString(c.Role)},
		{"State", state},
		{"Last update", update},
		{"Last modified", formatLambdaTime(aws.ToString(c.LastModified))},
	}
}

func megabytes(n *int32) string {
	if n == nil {
		return ""
	}
	return strconv.Itoa(int(*n)) + " MB"
}

func seconds(n *int32) string {
	if n == nil {
		return ""
	}
	return strconv.Itoa(int(*n)) + " s"
}

// warnMissingFunction tells, on stderr, that what was just created points
// at a function that does not exist (yet), and what that means.
func (e *env) warnMissingFunction(ctx context.Context, c *client.Client, fn, consequence string) {
	_, err := c.Lambda.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(fn)})
	var nf *types.ResourceNotFoundException
	if errors.As(err, &nf) {
		fmt.Fprintf(e.stderr, "warning: the function %s does not exist; until it does, %s\n", fn, consequence)
	}
}

// Package cli implements the aloft command: the server and the client
// commands that manage and invoke functions on it.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/spf13/cobra"

	"github.com/aloft-dev/aloft/internal/client"
)

// Version is the version aloft reports; release builds set it with
// -ldflags "-X github.com/aloft-dev/aloft/internal/cli.Version=v1.2.3".
var Version = "dev"

// Execute runs aloft with the process's arguments and standard streams and
// exits: 0 on success, 1 on any error. SIGINT and SIGTERM cancel the running
// command.
func Execute() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Run runs aloft with args (without the program name) and returns the exit
// code. Errors are reported as one line on stderr.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return newEnv(stdin, stdout, stderr).run(ctx, args)
}

// env is what the commands of one run share: streams, how to connect, and
// the clock.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer

	newClient    func() (*client.Client, error)
	lookup       client.Lookup // the --endpoint and --profile flags
	now          func() time.Time
	pollInterval time.Duration // how often logs --follow asks for new events

	client *client.Client // once connected, for error messages
}

func newEnv(stdin io.Reader, stdout, stderr io.Writer) *env {
	e := &env{
		stdin:        stdin,
		stdout:       stdout,
		stderr:       stderr,
		now:          time.Now,
		pollInterval: time.Second,
	}
	e.newClient = func() (*client.Client, error) { return client.FromLookup(e.lookup) }
	return e
}

// extraCommands are added to the root command; files built only in some
// configurations register here.
var extraCommands []func(*env) *cobra.Command

func (e *env) run(ctx context.Context, args []string) int {
	root := e.rootCmd()
	root.SetArgs(args)
	root.SetIn(e.stdin)
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	cmd, err := root.ExecuteContextC(ctx)
	var code exitCode
	if errors.As(err, &code) {
		return int(code)
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "aloft: %s\n", e.explainFor(cmd, err))
		return 1
	}
	return 0
}

// exitCode ends a command with that code and nothing more said: what it
// ran has said why already.
type exitCode int

func (c exitCode) Error() string { return "exit status " + strconv.Itoa(int(c)) }

// explainFor is explain with a pointer to the help of cmd for the mistakes
// cobra itself reports in how a command was called.
func (e *env) explainFor(cmd *cobra.Command, err error) string {
	msg := err.Error()
	switch {
	case strings.HasPrefix(msg, "unknown command"):
		line := oneLine(msg)
		if _, rest, ok := strings.Cut(msg, "Did you mean this?"); ok {
			var names []string
			for _, f := range strings.Fields(rest) {
				names = append(names, strconv.Quote(f))
			}
			if len(names) > 0 {
				line += "; did you mean " + strings.Join(names, " or ") + "?"
			}
		}
		return line
	case strings.HasPrefix(msg, "required flag") || strings.HasPrefix(msg, "if any flags in the group"):
		if cmd == nil {
			return oneLine(msg)
		}
		return usageErrorf(cmd, "%s", oneLine(msg)).Error()
	}
	return e.explain(err)
}

// connect returns the client, creating it on first use.
func (e *env) connect() (*client.Client, error) {
	if e.client != nil {
		return e.client, nil
	}
	c, err := e.newClient()
	if err != nil {
		return nil, err
	}
	e.client = c
	return c, nil
}

func (e *env) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "aloft",
		Short: "Self-hosted serverless: functions, HTTP routes, S3 buckets, schedules, with the AWS APIs",
		Long: `Aloft runs functions on your own machines, with HTTP routes and function URLs,
S3-compatible buckets whose uploads trigger functions, schedules, logs and
IAM, and serves the AWS APIs for them (Lambda, S3, CloudWatch Logs,
EventBridge Scheduler, API Gateway v2, IAM, STS), so the AWS SDKs and CLI
work against it unchanged.

Start a server with "aloft server"; the other commands talk to it. They find
its address and keys in the first of: --endpoint and --profile;
ALOFT_ENDPOINT, ALOFT_ACCESS_KEY_ID and ALOFT_SECRET_ACCESS_KEY;
AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (with
AWS_SESSION_TOKEN); the AWS profile in AWS_PROFILE; the data directory
(ALOFT_DATA_DIR, ./` + client.DefaultDataDir + `, or that of the server last started on this machine,
which it records); the AWS profile "aloft" ("aloft configure" writes it).
The region is AWS_REGION or AWS_DEFAULT_REGION (default ` + client.DefaultRegion + `).

On the machine running the server nothing needs setting, from any directory.
"aloft env" prints the variables other clients need; "aloft configure"
writes an AWS profile for them.`,
		Version:       versionString(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetVersionTemplate("aloft {{.Version}}\n")
	root.PersistentFlags().StringVar(&e.lookup.Endpoint, "endpoint", "", "`URL` of the server (default: from the environment, then "+client.DefaultEndpoint+")")
	root.PersistentFlags().StringVar(&e.lookup.Profile, "profile", "", "AWS shared-config `PROFILE` with the keys (and endpoint_url)")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageErrorf(c, "%v", err)
	})
	root.AddCommand(e.functionCmd(), e.invokeCmd(), e.logsCmd(), e.usageCmd(), e.asyncCmd(), e.queueCmd(), e.topicCmd(), e.tableCmd(), e.scheduleCmd(), e.routeCmd(), e.bucketCmd(), e.objectCmd(), e.keepaliveCmd(),
		e.whoamiCmd(), e.userCmd(), e.keyCmd(), e.roleCmd(), e.policyCmd(), e.envCmd(), e.configureCmd(), e.runtimesCmd(), e.versionCmd())
	for _, add := range extraCommands {
		root.AddCommand(add(e))
	}
	e.addCompletions(root)
	return root
}

func (e *env) versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of aloft",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := fmt.Fprintf(e.stdout, "aloft %s\n", versionString())
			return err
		},
	}
}

// versionString is the version with the Go toolchain and platform.
func versionString() string {
	v := Version
	if v == "dev" {
		if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
	}
	return fmt.Sprintf("%s (%s, %s/%s)", v, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// usageError is a mistake in how a command was called.
type usageError struct{ msg string }

func (u *usageError) Error() string { return u.msg }

// usageErrorf reports a mistake in calling cmd, pointing to its help.
func usageErrorf(cmd *cobra.Command, format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...) + fmt.Sprintf(" (see \"%s --help\")", cmd.CommandPath())}
}

// noArgs rejects positional arguments.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErrorf(cmd, "unexpected argument %q", args[0])
	}
	return nil
}

// nameArg accepts exactly one argument, a function name.
func nameArg(cmd *cobra.Command, args []string) error {
	switch {
	case len(args) == 0:
		return usageErrorf(cmd, "missing the function name")
	case len(args) > 1:
		return usageErrorf(cmd, "unexpected argument %q", args[1])
	case args[0] == "":
		return usageErrorf(cmd, "the function name is empty")
	}
	return nil
}

// stepError says which step of a command failed.
type stepError struct {
	step string
	err  error
}

func (s *stepError) Error() string { return s.step + ": " + s.err.Error() }
func (s *stepError) Unwrap() error { return s.err }

// apiCode returns the API error code inside err, or "".
func apiCode(err error) string {
	var api smithy.APIError
	if errors.As(err, &api) {
		return api.ErrorCode()
	}
	return ""
}

// notFound rewrites a ResourceNotFoundException about the function called
// name into a short message, and leaves other errors alone.
func notFound(err error, name string) error {
	if apiCode(err) == "ResourceNotFoundException" {
		return fmt.Errorf("function %q not found", name)
	}
	return err
}

// authCodes are the API errors that mean the keys are wrong.
var authCodes = map[string]bool{
	"InvalidSignatureException":   true,
	"UnrecognizedClientException": true,
	"AccessDeniedException":       true,
	"SignatureDoesNotMatch":       true,
	"InvalidClientTokenId":        true,
	"IncompleteSignature":         true,
	"MissingAuthenticationToken":  true,
}

// explain turns an error into the one line aloft prints for it.
func (e *env) explain(err error) string {
	var step *stepError
	if errors.As(err, &step) {
		return step.step + ": " + e.explain(step.err)
	}
	var usage *usageError
	if errors.As(err, &usage) {
		return usage.msg
	}
	if errors.Is(err, context.Canceled) {
		return "interrupted"
	}
	var send *smithyhttp.RequestSendError
	if errors.As(err, &send) {
		endpoint := client.DefaultEndpoint
		if e.client != nil {
			endpoint = e.client.Endpoint
		}
		msg := fmt.Sprintf("cannot reach the server at %s: %s", endpoint, sendReason(err))
		if errors.Is(err, syscall.ECONNREFUSED) {
			msg += ` (is "aloft server" running?)`
		}
		return msg
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		msg := api.ErrorCode()
		if m := oneLine(api.ErrorMessage()); m != "" {
			msg += ": " + m
		}
		if authCodes[api.ErrorCode()] && e.client != nil && e.client.CredentialSource != "" {
			msg += fmt.Sprintf(" (check the keys from %s)", e.client.CredentialSource)
		}
		return msg
	}
	return oneLine(err.Error())
}

// sendReason says briefly why a request could not be sent.
func sendReason(err error) string {
	var dnsErr *net.DNSError
	var opErr *net.OpError
	var urlErr *url.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, context.DeadlineExceeded):
		return "timed out"
	case errors.As(err, &dnsErr):
		return dnsErr.Error()
	case errors.As(err, &opErr):
		return opErr.Err.Error()
	case errors.As(err, &urlErr):
		return urlErr.Err.Error()
	}
	return err.Error()
}

// oneLine keeps the first line of s.
func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = strings.TrimSpace(s[:i])
	}
	return s
}

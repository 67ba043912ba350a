package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/spf13/cobra"

	"github.com/aloft-dev/aloft/internal/function"
)

// sdkConfig is the AWS SDK configuration of the connection: the endpoint,
// region, keys, HTTP client and retry policy its other SDK clients use.
func (e *env) sdkConfig() (aws.Config, error) {
	c, err := e.connect()
	if err != nil {
		return aws.Config{}, err
	}
	o := c.Lambda.Options()
	retryer := o.Retryer
	return aws.Config{
		Region:        o.Region,
		Credentials:   o.Credentials,
		HTTPClient:    o.HTTPClient,
		BaseEndpoint:  o.BaseEndpoint,
		Retryer:       func() aws.Retryer { return retryer },
		Logger:        o.Logger,
		ClientLogMode: o.ClientLogMode,
	}, nil
}

// iamClient returns an IAM client for the server.
func (e *env) iamClient() (*iam.Client, error) {
	cfg, err := e.sdkConfig()
	if err != nil {
		return nil, err
	}
	return iam.NewFromConfig(cfg), nil
}

// stsClient returns an STS client for the server.
func (e *env) stsClient() (*sts.Client, error) {
	cfg, err := e.sdkConfig()
	if err != nil {
		return nil, err
	}
	return sts.NewFromConfig(cfg), nil
}

// groupCmd is a command that only holds subcommands: alone it prints its
// help, and an unknown subcommand is a usage error.
func groupCmd(use, short, long string, aliases ...string) *cobra.Command {
	return &cobra.Command{
		Use:     use,
		Aliases: aliases,
		Short:   short,
		Long:    long,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErrorf(cmd, "unknown command %q for %q", args[0], cmd.CommandPath())
			}
			return cmd.Help()
		},
	}
}

// exactArgs accepts one non-empty argument for each of names, which say
// what the arguments are ("user name", "access key id").
func exactArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < len(names) {
			return usageErrorf(cmd, "missing the %s", names[len(args)])
		}
		if len(args) > len(names) {
			return usageErrorf(cmd, "unexpected argument %q", args[len(names)])
		}
		for i, a := range args {
			if a == "" {
				return usageErrorf(cmd, "the %s is empty", names[i])
			}
		}
		return nil
	}
}

// pager is what the SDK's paginators have in common.
type pager[O any] interface {
	HasMorePages() bool
	NextPage(context.Context, ...func(*iam.Options)) (O, error)
}

// collect reads every page of p and returns the items of all of them.
func collect[O, T any](ctx context.Context, p pager[O], items func(O) []T) ([]T, error) {
	all := []T{}
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		all = append(all, items(page)...)
	}
	return all, nil
}

// lambdaTrustPolicy lets Lambda assume a role: what a function's
// execution role needs.
const lambdaTrustPolicy = `{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Principal": {"Service": "lambda.amazonaws.com"},
      "Action": "sts:AssumeRole"
    }
  ]
}`

// readPolicyFile reads a policy document from path ("-" is standard
// input) and checks that it is JSON.
func (e *env) readPolicyFile(path string) (string, error) {
	var (
		data []byte
		err  error
	)
	switch {
	case path == "-" && e.stdin == nil:
		err = errors.New("no standard input")
	case path == "-":
		data, err = io.ReadAll(e.stdin)
	default:
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return "", fmt.Errorf("reading the policy: %w", err)
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		if path == "-" {
			path = "standard input"
		}
		return "", fmt.Errorf("the policy in %s is not JSON: %v", path, err)
	}
	return string(data), nil
}

// decodeDocument returns a policy document as IAM sends it, URL-encoded,
// in plain text; text that is not URL-encoded is returned as is.
func decodeDocument(doc string) string {
	if plain, err := url.PathUnescape(doc); err == nil {
		return plain
	}
	return doc
}

// prettyDocument is a policy document decoded and indented for reading;
// a document that is not JSON is returned decoded only.
func prettyDocument(doc string) string {
	plain := strings.TrimSpace(decodeDocument(doc))
	var buf bytes.Buffer
	if err := json.Indent(&buf, []byte(plain), "", "  "); err != nil {
		return plain
	}
	return buf.String()
}

// compactDocument is a policy document decoded and on one line, as the
// JSON output carries it.
func compactDocument(doc *string) *string {
	if doc == nil {
		return nil
	}
	plain := decodeDocument(*doc)
	var buf bytes.Buffer
	if err := json.Compact(&buf, []byte(plain)); err != nil {
		return &plain
	}
	s := buf.String()
	return &s
}

// policyARN returns s when it is an ARN, else the ARN of the managed
// policy of this account named s.
func policyARN(s string) string {
	if strings.HasPrefix(s, "arn:") {
		return s
	}
	return "arn:aws:iam::" + function.AccountID + ":policy/" + strings.TrimPrefix(s, "/")
}

// policyFlags are the flags that give a new user or role its policies.
type policyFlags struct {
	arns       []string
	file, name string
}

// register adds --policy-arn, --policy-file and --policy-name to cmd.
func (p *policyFlags) register(cmd *cobra.Command, who string) {
	f := cmd.Flags()
	f.StringArrayVar(&p.arns, "policy-arn", nil, "managed policy `ARN` (or name) to attach to the "+who+" (repeatable)")
	f.StringVar(&p.file, "policy-file", "", "`FILE` with a policy document (JSON) to put as an inline policy (- for stdin)")
	f.StringVar(&p.name, "policy-name", "", "`NAME` of the inline policy of --policy-file")
	cmd.MarkFlagsRequiredTogether("policy-file", "policy-name")
}

// document reads the inline policy, if one was given.
func (p *policyFlags) document(e *env) (string, error) {
	if p.file == "" {
		return "", nil
	}
	return e.readPolicyFile(p.file)
}

func (e *env) whoamiCmd() *cobra.Command {
	var out *outputFormat
	cmd := &cobra.Command{
		Use:   "whoami",
		Short: "Show who the keys in use belong to",
		Long: `Show the account, ARN and user id of the identity the requests are signed as
(STS GetCallerIdentity): the root with the server's own keys, a user with one
of its access keys, a role's session with temporary credentials.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.stsClient()
			if err != nil {
				return err
			}
			who, err := c.GetCallerIdentity(cmd.Context(), &sts.GetCallerIdentityInput{})
			if err != nil {
				return err
			}
			if *out == outputJSON {
				return writeJSON(e.stdout, who)
			}
			writeDetails(e.stdout, []field{
				{"Account", aws.ToString(who.Account)},
				{"Arn", aws.ToString(who.Arn)},
				{"UserId", aws.ToString(who.UserId)},
			})
			return nil
		},
	}
	out = addOutputFlag(cmd)
	return cmd
}

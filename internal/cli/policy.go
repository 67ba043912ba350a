package cli

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/spf13/cobra"

	"github.com/aloft-dev/aloft/internal/app"
	"github.com/aloft-dev/aloft/internal/policy"
)

func (e *env) policyCmd() *cobra.Command {
	cmd := groupCmd("policy", "Create, list, inspect, attach and delete managed IAM policies",
		`Managed policies are policy documents of their own, attached to any number
of users and roles. A policy is named by its ARN,
arn:aws:iam::000000000000:policy/NAME, or by NAME alone. The aws iam commands
work as well, and manage the policies' versions.`, "policies")
	cmd.AddCommand(e.policyCreateCmd(), e.policyListCmd(), e.policyShowCmd(), e.policyDeleteCmd(),
		e.policyAttachCmd(false), e.policyAttachCmd(true), e.policyValidateCmd())
	return cmd
}

func (e *env) policyCreateCmd() *cobra.Command {
	var (
		file, descr string
		out         *outputFormat
	)
	cmd := &cobra.Command{
		Use:     "create NAME --file FILE [--description TEXT]",
		Short:   "Create a managed policy",
		Example: `  aloft policy create read-photos --file read-photos.json --description "reads the photos bucket"`,
		Args:    exactArgs("policy name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			doc, err := e.readPolicyFile(file)
			if err != nil {
				return err
			}
			c, err := e.iamClient()
			if err != nil {
				return err
			}
			in := &iam.CreatePolicyInput{PolicyName: aws.String(args[0]), PolicyDocument: aws.String(doc)}
			if descr != "" {
				in.Description = aws.String(descr)
			}
			res, err := c.CreatePolicy(cmd.Context(), in)
			if err != nil {
				return err
			}
			if *out == outputJSON {
				return writeJSON(e.stdout, res.Policy)
			}
			_, err = fmt.Fprintf(e.stdout, "created policy %s (%s)\n", args[0], aws.ToString(res.Policy.Arn))
			return err
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "`FILE` with the policy document (JSON; - for stdin)")
	cmd.Flags().StringVar(&descr, "description", "", "`TEXT` describing the policy")
	_ = cmd.MarkFlagRequired("file")
	out = addOutputFlag(cmd)
	return cmd
}

func (e *env) policyListCmd() *cobra.Command {
	var out *outputFormat
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List managed policies",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.iamClient()
			if err != nil {
				return err
			}
			policies, err := collect(cmd.Context(), iam.NewListPoliciesPaginator(c, &iam.ListPoliciesInput{Scope: types.PolicyScopeTypeLocal}),
				func(o *iam.ListPoliciesOutput) []types.Policy { return o.Policies })
			if err != nil {
				return err
			}
			if *out == outputJSON {
				return writeJSON(e.stdout, policies)
			}
			t := newTable(e.stdout, 5, 4)
			t.AppendHeader(tableRow("NAME", "ARN", "VERSION", "ATTACHMENTS", "UPDATED"))
			for _, p := range policies {
				t.AppendRow(tableRow(aws.ToString(p.PolicyName), aws.ToString(p.Arn), aws.ToString(p.DefaultVersionId),
					attachments(p.AttachmentCount), formatTime(p.UpdateDate)))
			}
			t.Render()
			return nil
		},
	}
	out = addOutputFlag(cmd)
	return cmd
}

// attachments renders an attachment count.
func attachments(n *int32) string {
	if n == nil {
		return ""
	}
	return strconv.Itoa(int(*n))
}

// policyDetails is what policy show prints with --output json.
type policyDetails struct {
	Policy         *types.Policy
	DefaultVersion *types.PolicyVersion
}

func (e *env) policyShowCmd() *cobra.Command {
	var out *outputFormat
	cmd := &cobra.Command{
		Use:     "show ARN",
		Aliases: []string{"get"},
		Short:   "Show a managed policy and its document",
		Long:    `Show a managed policy and the document of its default version.`,
		Args:    exactArgs("policy ARN"),
		RunE: func(cmd *cobra.Command, args []string) error {
			arn := policyARN(args[0])
			c, err := e.iamClient()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			res, err := c.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(arn)})
			if err != nil {
				return err
			}
			p := res.Policy
			ver, err := c.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: aws.String(arn), VersionId: p.DefaultVersionId})
			if err != nil {
				return err
			}
			v := ver.PolicyVersion
			if *out == outputJSON {
				if v != nil {
					decoded := *v
					decoded.Document = compactDocument(v.Document)
					v = &decoded
				}
				return writeJSON(e.stdout, policyDetails{Policy: p, DefaultVersion: v})
			}
			doc := ""
			if v != nil {
				doc = prettyDocument(aws.ToString(v.Document))
			}
			writeDetails(e.stdout, []field{
				{"Name", aws.ToString(p.PolicyName)},
				{"ARN", aws.ToString(p.Arn)},
				{"ID", aws.ToString(p.PolicyId)},
				{"Path", aws.ToString(p.Path)},
				{"Description", aws.ToString(p.Description)},
				{"Default version", aws.ToString(p.DefaultVersionId)},
				{"Attachments", attachments(p.AttachmentCount)},
				{"Created", formatTime(p.CreateDate)},
				{"Updated", formatTime(p.UpdateDate)},
				{"Document", doc},
			})
			return nil
		},
	}
	out = addOutputFlag(cmd)
	return cmd
}

func (e *env) policyDeleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "delete ARN",
		Aliases: []string{"rm"},
		Short:   "Delete a managed policy",
		Long: `Delete a managed policy with all its versions. It must be detached from every
user and role first ("aloft policy detach").`,
		Args: exactArgs("policy ARN"),
		RunE: func(cmd *cobra.Command, args []string) error {
			arn := policyARN(args[0])
			c, err := e.iamClient()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			versions, err := collect(ctx, iam.NewListPolicyVersionsPaginator(c, &iam.ListPolicyVersionsInput{PolicyArn: aws.String(arn)}),
				func(o *iam.ListPolicyVersionsOutput) []types.PolicyVersion { return o.Versions })
			if err != nil {
				return err
			}
			// IAM deletes a policy only once its other versions are gone.
			for _, v := range versions {
				if v.IsDefaultVersion {
					continue
				}
				if _, err := c.DeletePolicyVersion(ctx, &iam.DeletePolicyVersionInput{PolicyArn: aws.String(arn), VersionId: v.VersionId}); err != nil {
					return err
				}
			}
			if _, err := c.DeletePolicy(ctx, &iam.DeletePolicyInput{PolicyArn: aws.String(arn)}); err != nil {
				return err
			}
			_, err = fmt.Fprintf(e.stdout, "deleted policy %s\n", arn)
			return err
		},
	}
}

// policyAttachCmd is policy attach, or policy detach with detach.
func (e *env) policyAttachCmd(detach bool) *cobra.Command {
	var user, role string
	verb, prep := "attach", "to"
	if detach {
		verb, prep = "detach", "from"
	}
	short := fmt.Sprintf("%s a managed policy %s a user or a role", strings.ToUpper(verb[:1])+verb[1:], prep)
	cmd := &cobra.Command{
		Use:     verb + " ARN (--user USER | --role ROLE)",
		Short:   short,
		Example: "  aloft policy " + verb + " read-photos --role thumbnailer",
		Args:    exactArgs("policy ARN"),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case user == "" && role == "":
				return usageErrorf(cmd, "give --user or --role")
			case user != "" && role != "":
				return usageErrorf(cmd, "--user and --role exclude each other")
			}
			arn := aws.String(policyARN(args[0]))
			c, err := e.iamClient()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			kind, name := "user", user
			switch {
			case user != "" && !detach:
				_, err = c.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String(user), PolicyArn: arn})
			case user != "":
				_, err = c.DetachUserPolicy(ctx, &iam.DetachUserPolicyInput{UserName: aws.String(user), PolicyArn: arn})
			case !detach:
				kind, name = "role", role
				_, err = c.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String(role), PolicyArn: arn})
			default:
				kind, name = "role", role
				_, err = c.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: aws.String(role), PolicyArn: arn})
			}
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(e.stdout, "%sed policy %s %s %s %s\n", verb, *arn, prep, kind, name)
			return err
		},
	}
	cmd.Flags().StringVar(&user, "user", "", "`USER` to "+verb+" the policy "+prep)
	cmd.Flags().StringVar(&role, "role", "", "`ROLE` to "+verb+" the policy "+prep)
	return cmd
}

// policyValidateCmd checks a policy document without a server: that it
// parses as IAM does, and that every action it names is one an operation
// here asks for. IAM accepts unknown actions (they allow nothing); this
// lists them, and exits 1 when there is any finding.
func (e *env) policyValidateCmd() *cobra.Command {
	var resource bool
	cmd := &cobra.Command{
		Use:   "validate FILE [--resource]",
		Short: "Check a policy document and list the actions no service here has",
		Example: `  aloft policy validate read-photos.json
  aloft policy validate trust.json --resource`,
		Args: exactArgs("policy file"),
		RunE: func(cmd *cobra.Command, args []string) error {
			doc, err := e.readPolicyFile(args[0])
			if err != nil {
				return err
			}
			parse := policy.Parse
			if resource {
				parse = policy.ParseResource
			}
			p, err := parse([]byte(doc))
			if err != nil {
				return fmt.Errorf("MalformedPolicyDocument: %s", strings.TrimPrefix(err.Error(), "iam: "))
			}
			known := app.KnownActions()
			var unknown []string
			for _, a := range p.Actions() {
				if !slices.ContainsFunc(known, func(k string) bool { return policy.Match(a, k, true) }) {
					unknown = append(unknown, a)
				}
			}
			for _, a := range unknown {
				fmt.Fprintf(e.stdout, "unknown action: %s (no operation here asks for it; it allows nothing)\n", a)
			}
			if len(unknown) > 0 {
				return fmt.Errorf("%d unknown action(s)", len(unknown))
			}
			_, err = fmt.Fprintln(e.stdout, "valid: every action is known")
			return err
		},
	}
	cmd.Flags().BoolVar(&resource, "resource", false, "the document is a resource-based policy (a trust or bucket policy), whose statements name a Principal")
	return cmd
}

package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/spf13/cobra"
)

func (e *env) roleCmd() *cobra.Command {
	cmd := groupCmd("role", "Create, list, inspect and delete IAM roles",
		`Roles are identities without keys of their own: whoever the role's trust
policy names may assume it (STS AssumeRole) and gets temporary credentials
allowed what the role's policies allow. Functions run with their execution
role (aloft function create --role), which must trust lambda.amazonaws.com.
The aws iam commands work as well.`, "roles")
	cmd.AddCommand(e.roleCreateCmd(), e.roleListCmd(), e.roleShowCmd(), e.roleDeleteCmd())
	return cmd
}

// roleTrust reads the trust policy --trust names: Lambda's, or a file's.
func (e *env) roleTrust(trust string) (string, error) {
	if trust == "lambda" {
		return lambdaTrustPolicy, nil
	}
	return e.readPolicyFile(trust)
}

// decodedRole is r with its trust policy decoded, as the JSON output
// shows it.
func decodedRole(r *types.Role) *types.Role {
	if r == nil {
		return nil
	}
	c := *r
	c.AssumeRolePolicyDocument = compactDocument(r.AssumeRolePolicyDocument)
	return &c
}

func (e *env) roleCreateCmd() *cobra.Command {
	var (
		pol          policyFlags
		trust, descr string
		out          *outputFormat
	)
	cmd := &cobra.Command{
		Use:   "create NAME [--trust lambda|FILE] [--policy-arn ARN]... [--policy-file FILE --policy-name NAME]",
		Short: "Create a role",
		Long: `Create a role, attach managed policies to it and give it an inline policy
from a JSON file. --trust sets who may assume the role: "lambda" (the default)
lets Lambda assume it, as a function's execution role needs; otherwise it is
a file with the trust policy document.`,
		Example: `  aloft role create thumbnailer --policy-file s3-photos.json --policy-name photos
  aloft role create deployer --trust trust.json --policy-arn deploy`,
		Args: exactArgs("role name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			trustDoc, err := e.roleTrust(trust)
			if err != nil {
				return err
			}
			doc, err := pol.document(e)
			if err != nil {
				return err
			}
			c, err := e.iamClient()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			in := &iam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(trustDoc)}
			if descr != "" {
				in.Description = aws.String(descr)
			}
			res, err := c.CreateRole(ctx, in)
			if err != nil {
				return err
			}
			var log []string
			log = append(log, fmt.Sprintf("created role %s (%s)", name, aws.ToString(res.Role.Arn)))
			for _, a := range pol.arns {
				arn := policyARN(a)
				if _, err := c.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String(name), PolicyArn: aws.String(arn)}); err != nil {
					return &stepError{fmt.Sprintf("role %s was created, but attaching %s failed", name, arn), err}
				}
				log = append(log, "attached policy "+arn)
			}
			if doc != "" {
				if _, err := c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(name),
					PolicyName: aws.String(pol.name), PolicyDocument: aws.String(doc)}); err != nil {
					return &stepError{fmt.Sprintf("role %s was created, but putting the inline policy %s failed", name, pol.name), err}
				}
				log = append(log, "put inline policy "+pol.name)
			}
			if *out == outputJSON {
				return writeJSON(e.stdout, decodedRole(res.Role))
			}
			_, err = fmt.Fprintln(e.stdout, strings.Join(log, "\n"))
			return err
		},
	}
	cmd.Flags().StringVar(&trust, "trust", "lambda", "who may assume the role: lambda, or a `FILE` with the trust policy (- for stdin)")
	cmd.Flags().StringVar(&descr, "description", "", "`TEXT` describing the role")
	pol.register(cmd, "role")
	out = addOutputFlag(cmd)
	return cmd
}

func (e *env) roleListCmd() *cobra.Command {
	var out *outputFormat
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List roles",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.iamClient()
			if err != nil {
				return err
			}
			roles, err := collect(cmd.Context(), iam.NewListRolesPaginator(c, &iam.ListRolesInput{}),
				func(o *iam.ListRolesOutput) []types.Role { return o.Roles })
			if err != nil {
				return err
			}
			if *out == outputJSON {
				for i := range roles {
					roles[i] = *decodedRole(&roles[i])
				}
				return writeJSON(e.stdout, roles)
			}
			t := newTable(e.stdout, 4)
			t.AppendHeader(tableRow("NAME", "ARN", "CREATED", "DESCRIPTION"))
			for _, r := range roles {
				t.AppendRow(tableRow(aws.ToString(r.RoleName), aws.ToString(r.Arn), formatTime(r.CreateDate), aws.ToString(r.Description)))
			}
			t.Render()
			return nil
		},
	}
	out = addOutputFlag(cmd)
	return cmd
}

// roleDetails is what role show prints with --output json.
type roleDetails struct {
	Role             *types.Role
	AttachedPolicies []types.AttachedPolicy
	InlinePolicies   []string
}

// attachedRolePolicies lists the managed policies attached to a role.
func attachedRolePolicies(ctx context.Context, c *iam.Client, role string) ([]types.AttachedPolicy, error) {
	return collect(ctx, iam.NewListAttachedRolePoliciesPaginator(c, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String(role)}),
		func(o *iam.ListAttachedRolePoliciesOutput) []types.AttachedPolicy { return o.AttachedPolicies })
}

// inlineRolePolicies lists the names of a role's inline policies.
func inlineRolePolicies(ctx context.Context, c *iam.Client, role string) ([]string, error) {
	return collect(ctx, iam.NewListRolePoliciesPaginator(c, &iam.ListRolePoliciesInput{RoleName: aws.String(role)}),
		func(o *iam.ListRolePoliciesOutput) []string { return o.PolicyNames })
}

func (e *env) roleShowCmd() *cobra.Command {
	var out *outputFormat
	cmd := &cobra.Command{
		Use:     "show NAME",
		Aliases: []string{"get"},
		Short:   "Show a role, its trust policy and its policies",
		Args:    exactArgs("role name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			c, err := e.iamClient()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			res, err := c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(name)})
			if err != nil {
				return err
			}
			d := roleDetails{Role: res.Role}
			if d.AttachedPolicies, err = attachedRolePolicies(ctx, c, name); err != nil {
				return err
			}
			if d.InlinePolicies, err = inlineRolePolicies(ctx, c, name); err != nil {
				return err
			}
			if *out == outputJSON {
				d.Role = decodedRole(d.Role)
				return writeJSON(e.stdout, d)
			}
			r := res.Role
			maxSession := ""
			if r.MaxSessionDuration != nil {
				maxSession = strconv.Itoa(int(*r.MaxSessionDuration)) + " s"
			}
			writeDetails(e.stdout, []field{
				{"Name", aws.ToString(r.RoleName)},
				{"ARN", aws.ToString(r.Arn)},
				{"ID", aws.ToString(r.RoleId)},
				{"Path", aws.ToString(r.Path)},
				{"Description", aws.ToString(r.Description)},
				{"Max session", maxSession},
				{"Created", formatTime(r.CreateDate)},
				{"Tags", formatTags(r.Tags)},
				{"Managed policies", attachedARNs(d.AttachedPolicies)},
				{"Inline policies", strings.Join(d.InlinePolicies, "\n")},
				{"Trust policy", prettyDocument(aws.ToString(r.AssumeRolePolicyDocument))},
			})
			return nil
		},
	}
	out = addOutputFlag(cmd)
	return cmd
}

func (e *env) roleDeleteCmd() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:     "delete NAME [--force]",
		Aliases: []string{"rm"},
		Short:   "Delete a role",
		Long: `Delete a role. IAM refuses to delete a role that still has policies; --force
deletes its inline policies and detaches its managed policies first. The
role's sessions stop working.`,
		Args: exactArgs("role name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			c, err := e.iamClient()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if force {
				if err := e.emptyRole(ctx, c, name); err != nil {
					return err
				}
			}
			if _, err := c.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String(name)}); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "deleted role %s\n", name)
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "delete the role's inline policies and detach its managed policies first")
	return cmd
}

// emptyRole deletes a role's inline policies and detaches its managed
// policies, saying what it did.
func (e *env) emptyRole(ctx context.Context, c *iam.Client, name string) error {
	role := aws.String(name)
	inline, err := inlineRolePolicies(ctx, c, name)
	if err != nil {
		return err
	}
	for _, p := range inline {
		if _, err := c.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: role, PolicyName: aws.String(p)}); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "deleted inline policy %s\n", p)
	}
	attached, err := attachedRolePolicies(ctx, c, name)
	if err != nil {
		return err
	}
	for _, p := range attached {
		if _, err := c.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: role, PolicyArn: p.PolicyArn}); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "detached policy %s\n", aws.ToString(p.PolicyArn))
	}
	return nil
}

package cli

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/spf13/cobra"
)

// secretNote is printed under a new access key.
const secretNote = "The secret access key is shown only this once: store it now. A lost secret cannot be\n" +
	"recovered; create another key and delete this one."

func (e *env) userCmd() *cobra.Command {
	cmd := groupCmd("user", "Create, list, inspect and delete IAM users",
		`Users are identities with long-term access keys. A user may do what its
policies allow: managed policies attached to it ("aloft policy") and inline
policies of its own. The aws iam commands work as well.`, "users")
	cmd.AddCommand(e.userCreateCmd(), e.userListCmd(), e.userShowCmd(), e.userDeleteCmd())
	return cmd
}

// newUser is what user create prints with --output json.
type newUser struct {
	User      *types.User
	AccessKey *types.AccessKey
}

func (e *env) userCreateCmd() *cobra.Command {
	var (
		pol     policyFlags
		withKey bool
		out     *outputFormat
	)
	cmd := &cobra.Command{
		Use:   "create NAME [--policy-arn ARN]... [--policy-file FILE --policy-name NAME] [--with-key]",
		Short: "Create a user",
		Long: `Create a user, attach managed policies to it, give it an inline policy from a
JSON file, and with --with-key create an access key for it. The key's secret
is printed once and cannot be retrieved later.`,
		Example: `  aloft user create ci --policy-arn deploy --with-key
  aloft user create reader --policy-file read.json --policy-name read`,
		Args: exactArgs("user name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			doc, err := pol.document(e)
			if err != nil {
				return err
			}
			c, err := e.iamClient()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			res, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(name)})
			if err != nil {
				return err
			}
			var log []string
			log = append(log, fmt.Sprintf("created user %s (%s)", name, aws.ToString(res.User.Arn)))
			for _, a := range pol.arns {
				arn := policyARN(a)
				if _, err := c.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String(name), PolicyArn: aws.String(arn)}); err != nil {
					return &stepError{fmt.Sprintf("user %s was created, but attaching %s failed", name, arn), err}
				}
				log = append(log, "attached policy "+arn)
			}
			if doc != "" {
				if _, err := c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String(name),
					PolicyName: aws.String(pol.name), PolicyDocument: aws.String(doc)}); err != nil {
					return &stepError{fmt.Sprintf("user %s was created, but putting the inline policy %s failed", name, pol.name), err}
				}
				log = append(log, "put inline policy "+pol.name)
			}
			result := newUser{User: res.User}
			if withKey {
				key, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(name)})
				if err != nil {
					return &stepError{fmt.Sprintf("user %s was created, but not its access key", name), err}
				}
				result.AccessKey = key.AccessKey
			}
			if *out == outputJSON {
				return writeJSON(e.stdout, result)
			}
			fmt.Fprintln(e.stdout, strings.Join(log, "\n"))
			if result.AccessKey != nil {
				fmt.Fprintln(e.stdout)
				e.printNewKey(result.AccessKey)
			}
			return nil
		},
	}
	pol.register(cmd, "user")
	cmd.Flags().BoolVar(&withKey, "with-key", false, "also create an access key and print it")
	out = addOutputFlag(cmd)
	return cmd
}

// printNewKey prints a new access key and its secret as a table.
func (e *env) printNewKey(k *types.AccessKey) {
	writeDetails(e.stdout, []field{
		{"User", aws.ToString(k.UserName)},
		{"Access key ID", aws.ToString(k.AccessKeyId)},
		{"Secret access key", aws.ToString(k.SecretAccessKey)},
		{"Status", string(k.Status)},
	})
	fmt.Fprintln(e.stdout)
	fmt.Fprintln(e.stdout, secretNote)
}

func (e *env) userListCmd() *cobra.Command {
	var out *outputFormat
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List users",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.iamClient()
			if err != nil {
				return err
			}
			users, err := collect(cmd.Context(), iam.NewListUsersPaginator(c, &iam.ListUsersInput{}),
				func(o *iam.ListUsersOutput) []types.User { return o.Users })
			if err != nil {
				return err
			}
			if *out == outputJSON {
				return writeJSON(e.stdout, users)
			}
			t := newTable(e.stdout, 3)
			t.AppendHeader(tableRow("NAME", "ARN", "CREATED"))
			for _, u := range users {
				t.AppendRow(tableRow(aws.ToString(u.UserName), aws.ToString(u.Arn), formatTime(u.CreateDate)))
			}
			t.Render()
			return nil
		},
	}
	out = addOutputFlag(cmd)
	return cmd
}

// userDetails is what user show prints with --output json.
type userDetails struct {
	User             *types.User
	AttachedPolicies []types.AttachedPolicy
	InlinePolicies   []string
	AccessKeys       []types.AccessKeyMetadata
}

// attachedUserPolicies lists the managed policies attached to a user.
func attachedUserPolicies(ctx context.Context, c *iam.Client, user string) ([]types.AttachedPolicy, error) {
	return collect(ctx, iam.NewListAttachedUserPoliciesPaginator(c, &iam.ListAttachedUserPoliciesInput{UserName: aws.String(user)}),
		func(o *iam.ListAttachedUserPoliciesOutput) []types.AttachedPolicy { return o.AttachedPolicies })
}

// inlineUserPolicies lists the names of a user's inline policies.
func inlineUserPolicies(ctx context.Context, c *iam.Client, user string) ([]string, error) {
	return collect(ctx, iam.NewListUserPoliciesPaginator(c, &iam.ListUserPoliciesInput{UserName: aws.String(user)}),
		func(o *iam.ListUserPoliciesOutput) []string { return o.PolicyNames })
}

// accessKeys lists a user's access keys.
func accessKeys(ctx context.Context, c *iam.Client, user string) ([]types.AccessKeyMetadata, error) {
	return collect(ctx, iam.NewListAccessKeysPaginator(c, &iam.ListAccessKeysInput{UserName: aws.String(user)}),
		func(o *iam.ListAccessKeysOutput) []types.AccessKeyMetadata { return o.AccessKeyMetadata })
}

func (e *env) userShowCmd() *cobra.Command {
	var out *outputFormat
	cmd := &cobra.Command{
		Use:     "show NAME",
		Aliases: []string{"get"},
		Short:   "Show a user, its policies and access keys",
		Args:    exactArgs("user name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			c, err := e.iamClient()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			u, err := c.GetUser(ctx, &iam.GetUserInput{UserName: aws.String(name)})
			if err != nil {
				return err
			}
			d := userDetails{User: u.User}
			if d.AttachedPolicies, err = attachedUserPolicies(ctx, c, name); err != nil {
				return err
			}
			if d.InlinePolicies, err = inlineUserPolicies(ctx, c, name); err != nil {
				return err
			}
			if d.AccessKeys, err = accessKeys(ctx, c, name); err != nil {
				return err
			}
			if *out == outputJSON {
				return writeJSON(e.stdout, d)
			}
			var keys []string
			for _, k := range d.AccessKeys {
				keys = append(keys, fmt.Sprintf("%s   %-8s   %s", aws.ToString(k.AccessKeyId), k.Status, formatTime(k.CreateDate)))
			}
			writeDetails(e.stdout, []field{
				{"Name", aws.ToString(u.User.UserName)},
				{"ARN", aws.ToString(u.User.Arn)},
				{"ID", aws.ToString(u.User.UserId)},
				{"Path", aws.ToString(u.User.Path)},
				{"Created", formatTime(u.User.CreateDate)},
				{"Tags", formatTags(u.User.Tags)},
				{"Managed policies", attachedARNs(d.AttachedPolicies)},
				{"Inline policies", strings.Join(d.InlinePolicies, "\n")},
				{"Access keys", strings.Join(keys, "\n")},
			})
			return nil
		},
	}
	out = addOutputFlag(cmd)
	return cmd
}

// formatTags renders tags as KEY=VALUE lines, sorted.
func formatTags(tags []types.Tag) string {
	lines := make([]string, 0, len(tags))
	for _, t := range tags {
		lines = append(lines, aws.ToString(t.Key)+"="+aws.ToString(t.Value))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// attachedARNs renders the ARNs of attached policies, one a line.
func attachedARNs(ps []types.AttachedPolicy) string {
	lines := make([]string, 0, len(ps))
	for _, p := range ps {
		lines = append(lines, aws.ToString(p.PolicyArn))
	}
	return strings.Join(lines, "\n")
}

func (e *env) userDeleteCmd() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:     "delete NAME [--force]",
		Aliases: []string{"rm"},
		Short:   "Delete a user",
		Long: `Delete a user. IAM refuses to delete a user that still has access keys or
policies; --force deletes its access keys and inline policies and detaches its
managed policies first.`,
		Args: exactArgs("user name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			c, err := e.iamClient()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if force {
				if err := e.emptyUser(ctx, c, name); err != nil {
					return err
				}
			}
			if _, err := c.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String(name)}); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "deleted user %s\n", name)
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "delete the user's access keys and inline policies and detach its managed policies first")
	return cmd
}

// emptyUser deletes a user's access keys and inline policies and
// detaches its managed policies, saying what it did.
func (e *env) emptyUser(ctx context.Context, c *iam.Client, name string) error {
	user := aws.String(name)
	keys, err := accessKeys(ctx, c, name)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if _, err := c.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: user, AccessKeyId: k.AccessKeyId}); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "deleted access key %s\n", aws.ToString(k.AccessKeyId))
	}
	inline, err := inlineUserPolicies(ctx, c, name)
	if err != nil {
		return err
	}
	for _, p := range inline {
		if _, err := c.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: user, PolicyName: aws.String(p)}); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "deleted inline policy %s\n", p)
	}
	attached, err := attachedUserPolicies(ctx, c, name)
	if err != nil {
		return err
	}
	for _, p := range attached {
		if _, err := c.DetachUserPolicy(ctx, &iam.DetachUserPolicyInput{UserName: user, PolicyArn: p.PolicyArn}); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "detached policy %s\n", aws.ToString(p.PolicyArn))
	}
	return nil
}

func (e *env) keyCmd() *cobra.Command {
	cmd := groupCmd("key", "Create, list, disable, enable and delete users' access keys",
		`Access keys sign requests as a user: set ALOFT_ACCESS_KEY_ID and
ALOFT_SECRET_ACCESS_KEY (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY for
other tools) to act as that user. A user has at most two keys; a disabled key
is refused until it is enabled again.`, "keys")
	cmd.AddCommand(e.keyCreateCmd(), e.keyListCmd(),
		e.keyStatusCmd("disable", "Disable an access key: requests signed with it are refused", types.StatusTypeInactive),
		e.keyStatusCmd("enable", "Enable a disabled access key again", types.StatusTypeActive),
		e.keyDeleteCmd())
	return cmd
}

func (e *env) keyCreateCmd() *cobra.Command {
	var out *outputFormat
	cmd := &cobra.Command{
		Use:   "create USER",
		Short: "Create an access key for a user",
		Long: `Create an access key for a user and print it. The secret is printed only
this once and cannot be retrieved later.`,
		Args: exactArgs("user name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.iamClient()
			if err != nil {
				return err
			}
			res, err := c.CreateAccessKey(cmd.Context(), &iam.CreateAccessKeyInput{UserName: aws.String(args[0])})
			if err != nil {
				return err
			}
			if *out == outputJSON {
				return writeJSON(e.stdout, res.AccessKey)
			}
			e.printNewKey(res.AccessKey)
			return nil
		},
	}
	out = addOutputFlag(cmd)
	return cmd
}

func (e *env) keyListCmd() *cobra.Command {
	var out *outputFormat
	cmd := &cobra.Command{
		Use:     "list USER",
		Aliases: []string{"ls"},
		Short:   "List a user's access keys",
		Args:    exactArgs("user name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.iamClient()
			if err != nil {
				return err
			}
			keys, err := accessKeys(cmd.Context(), c, args[0])
			if err != nil {
				return err
			}
			if *out == outputJSON {
				return writeJSON(e.stdout, keys)
			}
			t := newTable(e.stdout, 3)
			t.AppendHeader(tableRow("ACCESS KEY ID", "STATUS", "CREATED"))
			for _, k := range keys {
				t.AppendRow(tableRow(aws.ToString(k.AccessKeyId), string(k.Status), formatTime(k.CreateDate)))
			}
			t.Render()
			return nil
		},
	}
	out = addOutputFlag(cmd)
	return cmd
}

// keyStatusCmd is key disable or key enable: verb sets status.
func (e *env) keyStatusCmd(verb, short string, status types.StatusType) *cobra.Command {
	return &cobra.Command{
		Use:   verb + " USER KEYID",
		Short: short,
		Args:  exactArgs("user name", "access key id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.iamClient()
			if err != nil {
				return err
			}
			if _, err := c.UpdateAccessKey(cmd.Context(), &iam.UpdateAccessKeyInput{
				UserName: aws.String(args[0]), AccessKeyId: aws.String(args[1]), Status: status,
			}); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "%sd access key %s of user %s\n", verb, args[1], args[0])
			return nil
		},
	}
}

func (e *env) keyDeleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "delete USER KEYID",
		Aliases: []string{"rm"},
		Short:   "Delete an access key",
		Args:    exactArgs("user name", "access key id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.iamClient()
			if err != nil {
				return err
			}
			if _, err := c.DeleteAccessKey(cmd.Context(), &iam.DeleteAccessKeyInput{
				UserName: aws.String(args[0]), AccessKeyId: aws.String(args[1]),
			}); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "deleted access key %s of user %s\n", args[1], args[0])
			return nil
		},
	}
}

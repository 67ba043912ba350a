package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/aloft-dev/aloft/internal/client"
)

// envCmd prints the variables other AWS clients need to reach the
// server: keys, region (both names, for CLI v1 and v2) and endpoint.
func (e *env) envCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "env",
		Short: "Print export lines that point AWS clients (CLI v1 and v2, SDKs) at the server",
		Long: `Prints shell export lines with the keys, the region (AWS_DEFAULT_REGION for
AWS CLI v1, AWS_REGION for the rest) and AWS_ENDPOINT_URL, which AWS CLI v2
(2.13 and later), botocore 1.31 and later and the current SDKs honour:

  eval "$(aloft env)"`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.connect()
			if err != nil {
				return err
			}
			creds, err := c.Credentials(cmd.Context())
			if err != nil {
				return err
			}
			lines := []string{
				"AWS_ACCESS_KEY_ID=" + shellQuote(creds.AccessKeyID),
				"AWS_SECRET_ACCESS_KEY=" + shellQuote(creds.SecretAccessKey),
			}
			if creds.SessionToken != "" {
				lines = append(lines, "AWS_SESSION_TOKEN="+shellQuote(creds.SessionToken))
			}
			lines = append(lines, "AWS_DEFAULT_REGION="+shellQuote(c.Region), "AWS_REGION="+shellQuote(c.Region),
				"AWS_ENDPOINT_URL="+shellQuote(c.Endpoint))
			for _, l := range lines {
				if _, err := fmt.Fprintln(e.stdout, "export "+l); err != nil {
					return err
				}
			}
			return nil
		},
	}
}

// configureCmd writes an AWS shared-config profile for the server.
func (e *env) configureCmd() *cobra.Command {
	name := client.ProfileName
	cmd := &cobra.Command{
		Use:   "configure [--as PROFILE]",
		Short: "Write an AWS profile (keys, region, endpoint_url) for the server",
		Long: `Writes the profile "aloft" (or --as PROFILE) into the AWS shared config and
credentials files (AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE, or
~/.aws/config and ~/.aws/credentials), replacing an earlier one of that name
and keeping every other. Then:

  aws --profile aloft lambda list-functions
  AWS_PROFILE=aloft python3 app.py

endpoint_url is honoured by AWS CLI v2 2.13 and later, botocore 1.31 and later
and the current SDKs; older clients need --endpoint-url (or "aloft env").`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.connect()
			if err != nil {
				return err
			}
			creds, err := c.Credentials(cmd.Context())
			if err != nil {
				return err
			}
			home, err := os.UserHomeDir()
			if err != nil {
				return err
			}
			cfgPath := firstNonEmpty(os.Getenv("AWS_CONFIG_FILE"), filepath.Join(home, ".aws", "config"))
			credPath := firstNonEmpty(os.Getenv("AWS_SHARED_CREDENTIALS_FILE"), filepath.Join(home, ".aws", "credentials"))
			section := "profile " + name
			if name == "default" {
				section = "default"
			}
			if err := writeSection(cfgPath, section, []string{"region = " + c.Region, "endpoint_url = " + c.Endpoint, "output = json"}, 0o600); err != nil {
				return err
			}
			keys := []string{"aws_access_key_id = " + creds.AccessKeyID, "aws_secret_access_key = " + creds.SecretAccessKey}
			if creds.SessionToken != "" {
				keys = append(keys, "aws_session_token = "+creds.SessionToken)
			}
			if err := writeSection(credPath, name, keys, 0o600); err != nil {
				return err
			}
			_, err = fmt.Fprintf(e.stdout, "wrote the AWS profile %s (%s, %s) for %s\n", name, cfgPath, credPath, c.Endpoint)
			return err
		},
	}
	cmd.Flags().StringVar(&name, "as", name, "name of the `PROFILE` to write")
	return cmd
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// writeSection replaces the INI section [name] of the file at path with
// lines (adding it if absent), keeping every other section as it was.
func writeSection(path, name string, lines []string, mode os.FileMode) error {
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	var out []string
	skip := false
	for _, l := range strings.Split(string(old), "\n") {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "[") && strings.HasSuffix(t, "]") {
			skip = strings.TrimSpace(t[1:len(t)-1]) == name
		}
		if !skip {
			out = append(out, l)
		}
	}
	for len(out) > 0 && strings.TrimSpace(out[len(out)-1]) == "" {
		out = out[:len(out)-1]
	}
	if len(out) > 0 {
		out = append(out, "")
	}
	out = append(out, "["+name+"]")
	out = append(out, lines...)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp := path + ".aloft-tmp"
	if err := os.WriteFile(tmp, []byte(strings.Join(out, "\n")+"\n"), mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:+=,@") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

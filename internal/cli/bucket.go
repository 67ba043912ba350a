package cli

import (
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/spf13/cobra"
)

func (e *env) bucketCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "bucket",
		Aliases: []string{"buckets"},
		Short:   "Create, list and delete buckets of the object store",
		Long: `Buckets hold objects in Aloft's S3-compatible object store, served on the same
address as the other APIs. "aloft object" puts, gets, lists and deletes the
objects; any S3 client works too (aws s3 --endpoint-url, the SDKs with
path-style addressing).`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErrorf(cmd, "unknown command %q for %q", args[0], cmd.CommandPath())
			}
			return cmd.Help()
		},
	}
	cmd.AddCommand(e.bucketCreateCmd(), e.bucketListCmd(), e.bucketDeleteCmd())
	return cmd
}

// bucketArg accepts exactly one argument, a bucket name (s3:// allowed).
func bucketArg(cmd *cobra.Command, args []string) error {
	switch {
	case len(args) == 0:
		return usageErrorf(cmd, "missing the bucket name")
	case len(args) > 1:
		return usageErrorf(cmd, "unexpected argument %q", args[1])
	case bucketName(args[0]) == "":
		return usageErrorf(cmd, "the bucket name is empty")
	}
	return nil
}

// bucketName strips an s3:// prefix and a trailing slash.
func bucketName(s string) string {
	b, _ := splitObject(s)
	return b
}

// bucketError rewrites the S3 errors about a bucket into short messages.
func bucketError(err error, bucket string) error {
	switch apiCode(err) {
	case "NoSuchBucket":
		return fmt.Errorf("bucket %q not found", bucket)
	case "BucketAlreadyOwnedByYou", "BucketAlreadyExists":
		return fmt.Errorf("bucket %q already exists", bucket)
	case "BucketNotEmpty":
		return fmt.Errorf("bucket %q is not empty (delete its objects first, or pass --force)", bucket)
	}
	return err
}

func (e *env) bucketCreateCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "create BUCKET",
		Aliases: []string{"mb"},
		Short:   "Create a bucket",
		Example: `  aloft bucket create photos`,
		Args:    bucketArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			name := bucketName(args[0])
			c, err := e.connect()
			if err != nil {
				return err
			}
			if err := c.CreateBucket(cmd.Context(), name); err != nil {
				return bucketError(err, name)
			}
			fmt.Fprintf(e.stdout, "created bucket %s\n", name)
			return nil
		},
	}
}

func (e *env) bucketListCmd() *cobra.Command {
	var out *outputFormat
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List buckets",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.connect()
			if err != nil {
				return err
			}
			buckets, err := c.ListBuckets(cmd.Context())
			if err != nil {
				return err
			}
			if *out == outputJSON {
				return writeJSON(e.stdout, buckets)
			}
			t := newTable(e.stdout, 2)
			t.AppendHeader(tableRow("NAME", "CREATED"))
			for _, b := range buckets {
				t.AppendRow(tableRow(aws.ToString(b.Name), formatTime(b.CreationDate)))
			}
			t.Render()
			return nil
		},
	}
	out = addOutputFlag(cmd)
	return cmd
}

func (e *env) bucketDeleteCmd() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:     "delete BUCKET",
		Aliases: []string{"rm", "rb"},
		Short:   "Delete a bucket",
		Long:    `Delete an empty bucket; with --force, its objects are deleted first.`,
		Args:    bucketArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			name := bucketName(args[0])
			c, err := e.connect()
			if err != nil {
				return err
			}
			if err := c.DeleteBucket(cmd.Context(), name, force); err != nil {
				return bucketError(err, name)
			}
			fmt.Fprintf(e.stdout, "deleted bucket %s\n", name)
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "delete the bucket's objects first")
	return cmd
}

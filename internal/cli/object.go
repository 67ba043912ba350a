package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/jedib0t/go-pretty/v6/text"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/aloft-dev/aloft/internal/client"
)

func (e *env) objectCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "object",
		Aliases: []string{"objects", "obj"},
		Short:   "Put, get, list and delete objects in buckets",
		Long: `Objects are named BUCKET/KEY (s3://BUCKET/KEY works too). Files of 8 MiB or
more are uploaded in 8 MiB parts (a multipart upload). A progress bar is drawn
on stderr when it is a terminal, or always with --progress.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErrorf(cmd, "unknown command %q for %q", args[0], cmd.CommandPath())
			}
			return cmd.Help()
		},
	}
	cmd.AddCommand(e.objectPutCmd(), e.objectGetCmd(), e.objectListCmd(), e.objectDeleteCmd())
	return cmd
}

// splitObject splits BUCKET/KEY or s3://BUCKET/KEY.
func splitObject(s string) (bucket, key string) {
	return client.SplitName(s)
}

// objectError rewrites the S3 errors about an object into short messages.
func objectError(err error, bucket, key string) error {
	switch apiCode(err) {
	case "NoSuchKey", "NotFound":
		return fmt.Errorf("object %q not found in bucket %q", key, bucket)
	}
	return bucketError(err, bucket)
}

// progressFlag registers --progress on cmd.
func progressFlag(cmd *cobra.Command) *bool {
	var p bool
	cmd.Flags().BoolVar(&p, "progress", false, "draw a progress bar on stderr even when it is not a terminal")
	return &p
}

// progress returns a bar of size bytes (-1: unknown) drawn on stderr, or
// nil when stderr is not a terminal and the bar was not asked for.
func (e *env) progress(forced bool, size int64, what string) *progressbar.ProgressBar {
	if !forced {
		f, ok := e.stderr.(*os.File)
		if !ok || !term.IsTerminal(int(f.Fd())) {
			return nil
		}
	}
	return progressbar.NewOptions64(size,
		progressbar.OptionSetWriter(e.stderr),
		progressbar.OptionSetDescription(what),
		progressbar.OptionShowBytes(true),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionShowCount(),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(e.stderr) }),
		progressbar.OptionFullWidth(),
	)
}

func (e *env) objectPutCmd() *cobra.Command {
	var (
		contentType string
		forced      *bool
	)
	cmd := &cobra.Command{
		Use:   "put BUCKET[/KEY] FILE|-",
		Short: "Upload a file (or standard input) as an object",
		Long: `Upload FILE, or standard input for "-", as the object BUCKET/KEY. Without a
KEY (BUCKET or BUCKET/prefix/), the file's name is the key's last part.`,
		Example: `  aloft object put photos cat.jpg                 # photos/cat.jpg
  aloft object put photos/2025/ ./cat.jpg         # photos/2025/cat.jpg
  tar c . | aloft object put backups/site.tar -`,
		Args: func(cmd *cobra.Command, args []string) error {
			switch {
			case len(args) < 2:
				return usageErrorf(cmd, "want BUCKET[/KEY] and FILE (or - for standard input)")
			case len(args) > 2:
				return usageErrorf(cmd, "unexpected argument %q", args[2])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			bucket, key := splitObject(args[0])
			file := args[1]
			if bucket == "" {
				return usageErrorf(cmd, "the bucket name is empty")
			}
			if key == "" || strings.HasSuffix(key, "/") {
				if file == "-" {
					return usageErrorf(cmd, "name the object's key (BUCKET/KEY) when reading standard input")
				}
				key += filepath.Base(file)
			}
			var (
				body io.Reader
				size int64 = -1
			)
			if file == "-" {
				body = e.stdin
			} else {
				f, err := os.Open(file)
				if err != nil {
					return err
				}
				defer f.Close()
				st, err := f.Stat()
				if err != nil {
					return err
				}
				if st.IsDir() {
					return fmt.Errorf("%s is a directory", file)
				}
				body, size = f, st.Size()
			}
			c, err := e.connect()
			if err != nil {
				return err
			}
			opts := client.PutOptions{ContentType: contentType}
			bar := e.progress(*forced, size, key)
			if bar != nil {
				opts.Progress = func(n int64) { bar.Add64(n) }
			}
			res, err := c.PutObject(cmd.Context(), bucket, key, body, opts)
			if bar != nil {
				if err == nil {
					bar.Finish()
				} else {
					fmt.Fprintln(e.stderr)
				}
			}
			if err != nil {
				return objectError(err, bucket, key)
			}
			how := "1 request"
			if res.Parts > 0 {
				how = fmt.Sprintf("%d parts", res.Parts)
			}
			fmt.Fprintf(e.stdout, "uploaded %s/%s (%s in %s, ETag %s)\n", bucket, key, client.FormatBytes(res.Size), how, res.ETag)
			return nil
		},
	}
	cmd.Flags().StringVar(&contentType, "content-type", "", "`TYPE` of the content (default: guessed from the key's extension)")
	forced = progressFlag(cmd)
	return cmd
}

func (e *env) objectGetCmd() *cobra.Command {
	var forced *bool
	cmd := &cobra.Command{
		Use:   "get BUCKET/KEY [FILE|-]",
		Short: "Download an object to a file (or standard output)",
		Long: `Download the object BUCKET/KEY to FILE, or to standard output for "-". Without
FILE, it is written to the current directory under the key's last part.`,
		Example: `  aloft object get photos/cat.jpg
  aloft object get photos-resized/cat.jpg small.jpg
  aloft object get backups/site.tar - | tar x`,
		Args: func(cmd *cobra.Command, args []string) error {
			switch {
			case len(args) == 0:
				return usageErrorf(cmd, "missing the object's name, BUCKET/KEY")
			case len(args) > 2:
				return usageErrorf(cmd, "unexpected argument %q", args[2])
			}
			if b, k := splitObject(args[0]); b == "" || k == "" {
				return usageErrorf(cmd, "%q is not BUCKET/KEY", args[0])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) (err error) {
			bucket, key := splitObject(args[0])
			dest := path.Base(key)
			if len(args) == 2 {
				dest = args[1]
			}
			if dest != "-" {
				if st, serr := os.Stat(dest); serr == nil && st.IsDir() {
					dest = filepath.Join(dest, path.Base(key))
				}
			}
			c, err := e.connect()
			if err != nil {
				return err
			}
			body, size, err := c.GetObject(cmd.Context(), bucket, key)
			if err != nil {
				return objectError(err, bucket, key)
			}
			defer body.Close()
			var (
				w   io.Writer = e.stdout
				tmp *os.File  // the file being written, renamed to dest at the end
			)
			if dest != "-" {
				// Write aside and rename, so a failed download leaves no
				// partial file under the name.
				f, cerr := os.CreateTemp(filepath.Dir(dest), "."+filepath.Base(dest)+".*")
				if cerr != nil {
					return cerr
				}
				defer func() {
					if err != nil {
						f.Close()
						os.Remove(f.Name())
					}
				}()
				if cerr := f.Chmod(0o644); cerr != nil {
					return cerr
				}
				w, tmp = f, f
			}
			var src io.Reader = body
			bar := e.progress(*forced, size, key)
			if bar != nil {
				src = io.TeeReader(body, bar)
			}
			n, err := io.Copy(w, src)
			if bar != nil {
				fmt.Fprintln(e.stderr)
			}
			if err != nil {
				return fmt.Errorf("download %s/%s: %w", bucket, key, err)
			}
			if tmp != nil {
				if err := tmp.Close(); err != nil {
					return err
				}
				if err := os.Rename(tmp.Name(), dest); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "downloaded %s/%s to %s (%s)\n", bucket, key, dest, client.FormatBytes(n))
			}
			return nil
		},
	}
	forced = progressFlag(cmd)
	return cmd
}

func (e *env) objectListCmd() *cobra.Command {
	var (
		prefix string
		out    *outputFormat
	)
	cmd := &cobra.Command{
		Use:     "list BUCKET[/PREFIX]",
		Aliases: []string{"ls"},
		Short:   "List the objects in a bucket",
		Example: `  aloft object list photos
  aloft object list photos --prefix 2025/`,
		Args: bucketArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			bucket, p := splitObject(args[0])
			if prefix == "" {
				prefix = p
			}
			c, err := e.connect()
			if err != nil {
				return err
			}
			objs, err := c.ListObjects(cmd.Context(), bucket, prefix)
			if err != nil {
				return bucketError(err, bucket)
			}
			if *out == outputJSON {
				return writeJSON(e.stdout, objs)
			}
			t := newTable(e.stdout, 4, 2)
			t.AppendHeader(tableRow("KEY", "SIZE", "LAST MODIFIED", "ETAG"))
			var total int64
			for _, o := range objs {
				total += aws.ToInt64(o.Size)
				t.AppendRow(tableRow(aws.ToString(o.Key), client.FormatBytes(aws.ToInt64(o.Size)),
					formatTime(o.LastModified), strings.Trim(aws.ToString(o.ETag), `"`)))
			}
			count := fmt.Sprintf("%d objects", len(objs))
			if len(objs) == 1 {
				count = "1 object"
			}
			t.Style().Format.Footer = text.FormatDefault // sizes keep their case ("MiB")
			t.AppendFooter(tableRow(count, client.FormatBytes(total), "", ""))
			t.Render()
			return nil
		},
	}
	cmd.Flags().StringVar(&prefix, "prefix", "", "list only keys that start with `PREFIX`")
	out = addOutputFlag(cmd)
	return cmd
}

func (e *env) objectDeleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "delete BUCKET/KEY...",
		Aliases: []string{"rm"},
		Short:   "Delete objects",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageErrorf(cmd, "missing the object's name, BUCKET/KEY")
			}
			for _, a := range args {
				if b, k := splitObject(a); b == "" || k == "" {
					return usageErrorf(cmd, "%q is not BUCKET/KEY", a)
				}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.connect()
			if err != nil {
				return err
			}
			var errs []error
			for _, a := range args {
				bucket, key := splitObject(a)
				if err := c.DeleteObject(cmd.Context(), bucket, key); err != nil {
					errs = append(errs, objectError(err, bucket, key))
					continue
				}
				fmt.Fprintf(e.stdout, "deleted %s/%s\n", bucket, key)
			}
			return errors.Join(errs...)
		},
	}
}

// formatTime renders t in UTC, RFC 3339, or "" when unset.
func formatTime(t *time.Time) string {
	if t == nil || t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

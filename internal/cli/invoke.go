package cli

import (
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/spf13/cobra"

	"github.com/aloft-dev/aloft/internal/client"
)

func (e *env) invokeCmd() *cobra.Command {
	var (
		payload   string
		showLog   bool
		async     bool
		qualifier string
	)
	cmd := &cobra.Command{
		Use:   "invoke NAME [--payload JSON|@FILE|-]",
		Short: "Invoke a function and print its response",
		Long: `Invoke a function synchronously and print its response on standard output.

--payload is the event: JSON text, @FILE for the content of a file, or - to
read standard input. With --log, the end of the invocation's log is printed on
standard error. When the function fails, its error response is printed and
aloft exits with status 1.

With --async the event is queued durably and aloft prints its request id
and returns at once; the function runs later, with retries (see
"aloft async stats").`,
		Example: `  aloft invoke hello --payload '{"name":"world"}'
  aloft invoke hello --payload @event.json --log
  echo '{}' | aloft invoke hello --payload -`,
		Args: nameArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			body, err := client.ReadPayload(payload, e.stdin)
			if err != nil {
				return err
			}
			c, err := e.connect()
			if err != nil {
				return err
			}
			in := &lambda.InvokeInput{FunctionName: aws.String(name), Payload: body}
			if async {
				in.InvocationType = types.InvocationTypeEvent
			}
			if showLog && !async {
				in.LogType = types.LogTypeTail
			}
			ref := name
			if qualifier != "" {
				in.Qualifier = aws.String(qualifier)
				ref += ":" + qualifier
			}
			res, err := c.Lambda.Invoke(cmd.Context(), in)
			if err != nil {
				return notFound(err, ref)
			}
			if async {
				id, _ := middleware.GetRequestIDMetadata(res.ResultMetadata)
				_, err := fmt.Fprintf(e.stdout, "queued %s\n", id)
				return err
			}
			if showLog && res.LogResult != nil {
				tail, err := base64.StdEncoding.DecodeString(*res.LogResult)
				if err != nil {
					return fmt.Errorf("decoding the log tail: %w", err)
				}
				if len(tail) > 0 && tail[len(tail)-1] != '\n' {
					tail = append(tail, '\n')
				}
				if _, err := e.stderr.Write(tail); err != nil {
					return err
				}
			}
			out := res.Payload
			if len(out) > 0 && out[len(out)-1] != '\n' {
				out = append(out, '\n')
			}
			if _, err := e.stdout.Write(out); err != nil {
				return err
			}
			if res.FunctionError != nil {
				return functionFailure(ref, *res.FunctionError, res.Payload)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&payload, "payload", "p", "{}", "event: `JSON`, @FILE, or - for standard input")
	f.BoolVar(&showLog, "log", false, "print the end of the invocation's log on standard error")
	f.BoolVar(&async, "async", false, "queue the event and return (an Event invocation)")
	f.StringVarP(&qualifier, "qualifier", "q", "", "`VERSION` or alias to invoke")
	return cmd
}

// functionFailure describes an invocation that ended in a function error,
// with the error type and message of the response when it has them.
func functionFailure(ref, kind string, payload []byte) error {
	var resp struct {
		ErrorType    string `json:"errorType"`
		ErrorMessage string `json:"errorMessage"`
	}
	_ = json.Unmarshal(payload, &resp)
	msg := fmt.Sprintf("function %s failed (%s)", ref, kind)
	switch {
	case resp.ErrorType != "" && resp.ErrorMessage != "":
		msg += ": " + resp.ErrorType + ": " + resp.ErrorMessage
	case resp.ErrorMessage != "":
		msg += ": " + resp.ErrorMessage
	case resp.ErrorType != "":
		msg += ": " + resp.ErrorType
	}
	return fmt.Errorf("%s", oneLine(msg))
}

package cli

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/spf13/cobra"

	"github.com/aloft-dev/aloft/internal/client"
)

func (e *env) routeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "route",
		Short: "Create, list and delete HTTP routes to functions",
		Long: `A route sends HTTP requests that match its key to a function through the
gateway (--gateway-listen, default 127.0.0.1:8080), as API Gateway HTTP APIs
do. A key is METHOD /path, where a segment may be {param} and the last one
{name+} (the rest of the path); ANY matches every method; $default matches
what no other route does. Routes go to the HTTP API named "aloft", which is
created when missing; --api chooses another. The aws apigatewayv2 commands
work as well.`,
	}
	cmd.AddCommand(e.routeCreateCmd(), e.routeListCmd(), e.routeDeleteCmd())
	return cmd
}

// routeKeyArgs accepts a route key as one argument ("GET /x") or two
// (GET /x).
func routeKeyArgs(cmd *cobra.Command, args []string) error {
	switch {
	case len(args) == 0:
		return usageErrorf(cmd, "missing the route key, such as \"GET /items/{id}\"")
	case len(args) > 2:
		return usageErrorf(cmd, "unexpected argument %q", args[2])
	}
	return nil
}

func routeKey(args []string) string {
	if len(args) == 2 {
		return strings.ToUpper(args[0]) + " " + args[1]
	}
	return args[0]
}

func (e *env) routeCreateCmd() *cobra.Command {
	var fn, api, format string
	cmd := &cobra.Command{
		Use:   "create KEY --function FUNCTION",
		Short: "Create a route",
		Example: `  aloft route create 'GET /hello' --function hello-py
  aloft route create POST '/items/{id}' --function items --payload-format 1.0
  aloft route create '$default' --function site`,
		Args: routeKeyArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.connect()
			if err != nil {
				return err
			}
			rt, err := c.CreateRoute(cmd.Context(), api, routeKey(args), fn, format)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "%s → %s (payload %s)\n", rt.RouteKey, rt.Function, rt.PayloadFormat)
			path := "/"
			if _, p, ok := strings.Cut(rt.RouteKey, " "); ok {
				path = p
			}
			fmt.Fprintf(e.stdout, "  %s%s\n", rt.Endpoint, path)
			if u := pathURL(c, rt); u != "" {
				fmt.Fprintf(e.stdout, "  %s%s\n", u, path)
			}
			e.warnMissingFunction(cmd.Context(), c, fn, "the route answers 500")
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&fn, "function", "f", "", "`FUNCTION` name or ARN to invoke")
	f.StringVar(&api, "api", client.DefaultAPIName, "HTTP `API` id or name")
	f.StringVar(&format, "payload-format", "2.0", "payload format `VERSION`: 2.0 or 1.0")
	cmd.MarkFlagRequired("function")
	return cmd
}

// pathURL is the path form of a route's API address on the gateway host
// the client talks to.
func pathURL(c *client.Client, rt *client.Route) string {
	ep, err := url.Parse(rt.Endpoint)
	if err != nil || ep.Port() == "" {
		return ""
	}
	srv, err := url.Parse(c.Endpoint)
	if err != nil {
		return ""
	}
	return "http://" + srv.Hostname() + ":" + ep.Port() + "/_aloft/apis/" + rt.APIID
}

func (e *env) routeListCmd() *cobra.Command {
	var api string
	var out *outputFormat
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List routes",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.connect()
			if err != nil {
				return err
			}
			routes, err := c.Routes(cmd.Context(), api)
			if err != nil {
				return err
			}
			if *out == outputJSON {
				if routes == nil {
					routes = []client.Route{}
				}
				return writeJSON(e.stdout, routes)
			}
			t := newTable(e.stdout, 4)
			t.AppendHeader(tableRow("ROUTE", "FUNCTION", "PAYLOAD", "API"))
			for _, r := range routes {
				t.AppendRow(tableRow(r.RouteKey, r.Function, r.PayloadFormat, r.APIID))
			}
			t.Render()
			return nil
		},
	}
	cmd.Flags().StringVar(&api, "api", "", "only the routes of this HTTP `API` (id or name)")
	out = addOutputFlag(cmd)
	return cmd
}

func (e *env) routeDeleteCmd() *cobra.Command {
	var api string
	cmd := &cobra.Command{
		Use:     "delete KEY",
		Short:   "Delete a route",
		Example: `  aloft route delete 'GET /hello'`,
		Args:    routeKeyArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.connect()
			if err != nil {
				return err
			}
			if err := c.DeleteRoute(cmd.Context(), api, routeKey(args)); err != nil {
				return err
			}
			_, err = fmt.Fprintf(e.stdout, "deleted route %s\n", routeKey(args))
			return err
		},
	}
	cmd.Flags().StringVar(&api, "api", client.DefaultAPIName, "HTTP `API` id or name")
	return cmd
}

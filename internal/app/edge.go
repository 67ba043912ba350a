package app

import (
	"log/slog"
	"net/http"

	"github.com/aloft-dev/aloft/internal/awsproto"
	"github.com/aloft-dev/aloft/internal/edge"
	"github.com/aloft-dev/aloft/internal/function"
	"github.com/aloft-dev/aloft/internal/lambdaapi"
	"github.com/aloft-dev/aloft/internal/logsapi"
	"github.com/aloft-dev/aloft/internal/schedulerapi"
)

// services is the front door's table (see package edge), in the order
// unsigned requests are recognised: S3's virtual hosts first, whose paths
// are the objects'.
func (s *Server) services(lambda http.Handler, log *slog.Logger) []*edge.Service {
	return []*edge.Service{
		{Name: "s3", Protocol: awsproto.RESTXML, Streams: true, Handler: s.s3,
			Recognize: func(r *http.Request) bool { return s.s3.IsVirtualHost(r.Host) }},
		{Name: "lambda", Protocol: awsproto.Lambda, MaxBody: function.MaxCreateBody, TooLarge: lambdaapi.TooLarge,
			Recognize: lambdaapi.Recognize, Handler: lambda},
		{Name: "logs", Protocol: awsproto.JSON11, MaxBody: logsapi.MaxBody,
			Recognize: edge.Target("Logs_20140328"),
			Handler:   logsapi.New(s.logStore, log.With("component", "logsapi"))},
		{Name: "scheduler", Protocol: awsproto.RESTJSON, MaxBody: 1 << 20,
			Recognize: edge.PathUnder("/schedules", "/schedule-groups"), Handler: schedulerapi.New(s.sched)},
		{Name: "apigateway", Protocol: awsproto.RESTJSON, MaxBody: 10 << 20,
			Recognize: edge.PathUnder("/v2/apis", "/v2/domainnames", "/v2/vpclinks", "/v2/tags"),
			Handler:   s.gatewayAPI(log.With("component", "gatewayapi"))},
	}
}

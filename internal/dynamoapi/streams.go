package dynamoapi

import (
	"context"
	"log/slog"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/aloft-dev/aloft/internal/awsproto"
	"github.com/aloft-dev/aloft/internal/tables"
)

// StreamsPrefix is the streams API's target prefix. Its clients sign as
// the service dynamodb, so one front-door service serves both APIs.
const StreamsPrefix = "DynamoDBStreams_20120810"

func (s *Server) streamsAPI(log *slog.Logger) *awsproto.JSONAPI {
	a := &awsproto.JSONAPI{Protocol: awsproto.JSON10, Prefix: StreamsPrefix, Errors: wireError, Log: log}
	awsproto.Handle(a, "ListStreams", s.listStreams)
	awsproto.Handle(a, "DescribeStream", s.describeStream)
	awsproto.Handle(a, "GetShardIterator", s.getShardIterator)
	awsproto.Handle(a, "GetRecords", s.getRecords)
	return a
}

// ServeHTTP serves a request of either API, by its target.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.Header.Get("X-Amz-Target"), StreamsPrefix+".") {
		s.streams.ServeHTTP(w, r)
		return
	}
	s.JSONAPI.ServeHTTP(w, r)
}

type streamSummary struct {
	StreamArn   string `json:"StreamArn"`
	StreamLabel string `json:"StreamLabel"`
	TableName   string `json:"TableName"`
}

func (s *Server) listStreams(ctx context.Context, in *struct {
	TableName               string `json:"TableName"`
	Limit                   *int   `json:"Limit"`
	ExclusiveStartStreamArn string `json:"ExclusiveStartStreamArn"`
}) (*struct {
	Streams                []streamSummary `json:"Streams"`
	LastEvaluatedStreamArn string          `json:"LastEvaluatedStreamArn,omitempty"`
}, error) {
	limit := 100
	if in.Limit != nil {
		if *in.Limit < 1 || *in.Limit > 100 {
			return nil, validation("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 100", *in.Limit)
		}
		limit = *in.Limit
	}
	all := s.t.Streams(tables.TableName(in.TableName))
	sort.Slice(all, func(i, j int) bool { return all[i].ARN < all[j].ARN })
	out := &struct {
		Streams                []streamSummary `json:"Streams"`
		LastEvaluatedStreamArn string          `json:"LastEvaluatedStreamArn,omitempty"`
	}{Streams: []streamSummary{}}
	for _, st := range all {
		if st.ARN <= in.ExclusiveStartStreamArn {
			continue
		}
		if len(out.Streams) == limit {
			out.LastEvaluatedStreamArn = out.Streams[limit-1].StreamArn
			break
		}
		out.Streams = append(out.Streams, streamSummary{st.ARN, st.Label, st.Table})
	}
	return out, nil
}

func (s *Server) describeStream(ctx context.Context, in *struct {
	StreamArn string `json:"StreamArn"`
}) (*struct {
	StreamDescription map[string]any `json:"StreamDescription"`
}, error) {
	st, err := s.t.DescribeStream(ctx, in.StreamArn)
	if err != nil {
		return nil, err
	}
	status := "ENABLED"
	if !st.Enabled {
		status = "DISABLED"
	}
	shard := map[string]any{"ShardId": tables.ShardID(st), "SequenceNumberRange": map[string]any{"StartingSequenceNumber": seqNumber(max(st.First, 1))}}
	return &struct {
		StreamDescription map[string]any `json:"StreamDescription"`
	}{map[string]any{"StreamArn": st.ARN, "StreamLabel": st.Label, "StreamStatus": status, "StreamViewType": st.ViewType,
		"TableName": st.Table, "KeySchema": st.KeySchema, "Shards": []any{shard}}}, nil
}

func seqNumber(n uint64) string { return tables.SequenceNumber(n) }

func (s *Server) getShardIterator(ctx context.Context, in *struct {
	StreamArn         string `json:"StreamArn"`
	ShardId           string `json:"ShardId"`
	ShardIteratorType string `json:"ShardIteratorType"`
	SequenceNumber    string `json:"SequenceNumber"`
}) (*struct {
	ShardIterator string `json:"ShardIterator"`
}, error) {
	var seq uint64
	if in.SequenceNumber != "" {
		n, err := strconv.ParseUint(in.SequenceNumber, 10, 64)
		if err != nil {
			return nil, validation("Invalid SequenceNumber %s", in.SequenceNumber)
		}
		seq = n
	} else if strings.HasSuffix(in.ShardIteratorType, "SEQUENCE_NUMBER") {
		return nil, validation("SequenceNumber is required for ShardIteratorType %s", in.ShardIteratorType)
	}
	it, err := s.t.Iterator(ctx, in.StreamArn, in.ShardId, in.ShardIteratorType, seq)
	if err != nil {
		return nil, err
	}
	return &struct {
		ShardIterator string `json:"ShardIterator"`
	}{it}, nil
}

func (s *Server) getRecords(ctx context.Context, in *struct {
	ShardIterator string `json:"ShardIterator"`
	Limit         *int   `json:"Limit"`
}) (*struct {
	Records           []map[string]any `json:"Records"`
	NextShardIterator string           `json:"NextShardIterator,omitempty"`
}, error) {
	limit := 1000
	if in.Limit != nil {
		if *in.Limit < 1 || *in.Limit > 1000 {
			return nil, validation("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 1000", *in.Limit)
		}
		limit = *in.Limit
	}
	recs, next, err := s.t.Records(ctx, in.ShardIterator, limit)
	if err != nil {
		return nil, err
	}
	out := &struct {
		Records           []map[string]any `json:"Records"`
		NextShardIterator string           `json:"NextShardIterator,omitempty"`
	}{Records: []map[string]any{}, NextShardIterator: next}
	for _, r := range recs {
		out.Records = append(out.Records, r.Event(""))
	}
	return out, nil
}

package dynamoapi

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"sync"
	"time"

	"github.com/aloft-dev/aloft/internal/fault"
	"github.com/aloft-dev/aloft/internal/item"
	"github.com/aloft-dev/aloft/internal/itemexpr"
	"github.com/aloft-dev/aloft/internal/tables"
)

// txAction is one action of TransactWriteItems.
type txAction struct {
	Put            *txOp `json:"Put"`
	Update         *txOp `json:"Update"`
	Delete         *txOp `json:"Delete"`
	ConditionCheck *txOp `json:"ConditionCheck"`
}

type txOp struct {
	TableName                           string                 `json:"TableName"`
	Item                                item.Item              `json:"Item"`
	Key                                 item.Item              `json:"Key"`
	ConditionExpression                 *string                `json:"ConditionExpression"`
	UpdateExpression                    *string                `json:"UpdateExpression"`
	ExpressionAttributeNames            map[string]string      `json:"ExpressionAttributeNames"`
	ExpressionAttributeValues           map[string]*item.Value `json:"ExpressionAttributeValues"`
	ReturnValuesOnConditionCheckFailure string                 `json:"ReturnValuesOnConditionCheckFailure"`
}

type transactWriteIn struct {
	TransactItems               []txAction `json:"TransactItems"`
	ClientRequestToken          string     `json:"ClientRequestToken"`
	ReturnConsumedCapacity      string     `json:"ReturnConsumedCapacity"`
	ReturnItemCollectionMetrics string     `json:"ReturnItemCollectionMetrics"`
}

// tokens remembers TransactWriteItems' ClientRequestTokens for ten
// minutes, on this node: a retry with the same token and request
// succeeds without writing again; with another request, it is refused.
type tokens struct {
	mu   sync.Mutex
	seen map[string]tokenUse
}

type tokenUse struct {
	request [32]byte
	at      time.Time
}

func (t *tokens) check(token string, body []byte) (repeat bool, err error) {
	if token == "" {
		return false, nil
	}
	if len(token) > 36 {
		return false, validation("1 validation error detected: Value '%s' at 'clientRequestToken' failed to satisfy constraint: Member must have length less than or equal to 36", token)
	}
	sum := sha256.Sum256(body)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.seen == nil {
		t.seen = map[string]tokenUse{}
	}
	for k, u := range t.seen {
		if time.Since(u.at) > 10*time.Minute {
			delete(t.seen, k)
		}
	}
	if u, ok := t.seen[token]; ok {
		if u.request != sum {
			return false, &tables.Error{Kind: fault.Invalid, Type: "IdempotentParameterMismatchException",
				Message: "Request token already used for a different request."}
		}
		return true, nil
	}
	return false, nil
}

func (t *tokens) done(token string, body []byte) {
	if token == "" {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.seen[token] = tokenUse{sha256.Sum256(body), time.Now()}
}

func (s *Server) transactWrite(ctx context.Context, in *transactWriteIn) (*struct{}, error) {
	body, _ := json.Marshal(in)
	repeat, err := s.tokens.check(in.ClientRequestToken, body)
	if err != nil || repeat {
		return &struct{}{}, err
	}
	var writes []tables.TxWrite
	var names []string
	for _, a := range in.TransactItems {
		n := 0
		for _, op := range []*txOp{a.Put, a.Update, a.Delete, a.ConditionCheck} {
			if op != nil {
				n++
			}
		}
		if n != 1 {
			return nil, validation("TransactItems can only contain one of Check, Put, Update or Delete")
		}
		var op *txOp
		w := tables.TxWrite{}
		switch {
		case a.Put != nil:
			op, w.Put = a.Put, a.Put.Item
			if w.Put == nil {
				return nil, validation("1 validation error detected: Value null at 'transactItems.1.member.put.item' failed to satisfy constraint: Member must not be null")
			}
		case a.Update != nil:
			op = a.Update
			if op.UpdateExpression == nil {
				return nil, validation("1 validation error detected: Value null at 'transactItems.1.member.update.updateExpression' failed to satisfy constraint: Member must not be null")
			}
		case a.Delete != nil:
			op, w.Delete = a.Delete, true
		default:
			op = a.ConditionCheck
			if op.ConditionExpression == nil {
				return nil, validation("1 validation error detected: Value null at 'transactItems.1.member.conditionCheck.conditionExpression' failed to satisfy constraint: Member must not be null")
			}
		}
		w.Table, w.Key = tables.TableName(op.TableName), op.Key
		names = append(names, w.Table)
		e := &exprs{ExpressionAttributeNames: op.ExpressionAttributeNames, ExpressionAttributeValues: op.ExpressionAttributeValues}
		if err := e.check(); err != nil {
			return nil, err
		}
		if w.Cond.Expr, err = e.condition("ConditionExpression", op.ConditionExpression); err != nil {
			return nil, err
		}
		w.Cond.ReturnItem = op.ReturnValuesOnConditionCheckFailure == "ALL_OLD"
		if op.UpdateExpression != nil {
			if w.Update, err = itemexpr.ParseUpdate(*op.UpdateExpression, e.params); err != nil {
				return nil, err
			}
		}
		if err := e.params.Unused(); err != nil {
			return nil, err
		}
		writes = append(writes, w)
	}
	if err := authorizeTables(ctx, "dynamodb:TransactWriteItems", names); err != nil {
		return nil, err
	}
	if err := s.t.TransactWrite(ctx, writes); err != nil {
		return nil, err
	}
	s.tokens.done(in.ClientRequestToken, body)
	return &struct{}{}, nil
}

type transactGetIn struct {
	TransactItems []struct {
		Get *struct {
			TableName                string            `json:"TableName"`
			Key                      item.Item         `json:"Key"`
			ProjectionExpression     *string           `json:"ProjectionExpression"`
			ExpressionAttributeNames map[string]string `json:"ExpressionAttributeNames"`
		} `json:"Get"`
	} `json:"TransactItems"`
	ReturnConsumedCapacity string `json:"ReturnConsumedCapacity"`
}

type itemResponse struct {
	Item item.Item `json:"Item,omitempty"`
}

func (s *Server) transactGet(ctx context.Context, in *transactGetIn) (*struct {
	Responses []itemResponse `json:"Responses"`
}, error) {
	var names []string
	var keys []item.Item
	var projections [][]itemexpr.Path
	for _, a := range in.TransactItems {
		if a.Get == nil {
			return nil, validation("TransactItems can only contain Get")
		}
		p := &itemexpr.Params{Names: a.Get.ExpressionAttributeNames}
		var paths []itemexpr.Path
		if a.Get.ProjectionExpression != nil {
			var err error
			if paths, err = itemexpr.ParseProjection(*a.Get.ProjectionExpression, p); err != nil {
				return nil, err
			}
		}
		if err := p.Unused(); err != nil {
			return nil, err
		}
		names = append(names, tables.TableName(a.Get.TableName))
		keys = append(keys, a.Get.Key)
		projections = append(projections, paths)
	}
	if err := authorizeTables(ctx, "dynamodb:TransactGetItems", names); err != nil {
		return nil, err
	}
	got, err := s.t.TransactGet(ctx, names, keys)
	if err != nil {
		return nil, err
	}
	out := &struct {
		Responses []itemResponse `json:"Responses"`
	}{}
	for i, it := range got {
		if it != nil && projections[i] != nil {
			it = itemexpr.Project(it, projections[i])
		}
		out.Responses = append(out.Responses, itemResponse{it})
	}
	return out, nil
}

package userprops

import "context"

// FindValues is for backend implementers: an optional interface of a
// FindView, for a view whose reads each cost a round trip (a database over
// the network). Evaluate, when its view has it, reads the values of the
// accounts it checks one by one (the candidates an indexed clause left for
// a clause it then checks) through Values, in a few calls, instead of one
// Value per account. A view without it is read with Value; the answers are
// the same.
type FindValues interface {
	// Values calls fn, in any order, once for each account among
	// accountIDs (sorted and unique) that holds property key, with its
	// value, until fn returns false; accounts without the property are
	// skipped. value is valid only during the call and must not be
	// modified. Values should check ctx and return its error.
	Values(ctx context.Context, accountIDs []string, key string, fn func(accountID string, value []byte) bool) error
}

// check returns the accounts among cands (sorted and unique) that clause n
// matches, reading their values through FindValues if the view has it and
// through Value otherwise.
func (e *evaluator) check(n *qnode, cands []string) ([]string, error) {
	var ids []string
	if fv, ok := e.view.(FindValues); ok {
		err := fv.Values(e.ctx, cands, n.key, func(id string, v []byte) bool {
			if n.lit.matches(selectValue(v, n.gpath)) {
				ids = append(ids, id)
			}
			return true
		})
		if err != nil {
			return nil, err
		}
		return sortUnique(ids), nil
	}
	for i, id := range cands {
		if i%256 == 255 {
			if err := e.ctx.Err(); err != nil {
				return nil, err
			}
		}
		v, ok, err := e.view.Value(e.ctx, id, n.key)
		if err != nil {
			return nil, err
		}
		if ok && n.lit.matches(selectValue(v, n.gpath)) {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

package sentinel

import (
	"context"
	"errors"
)

func (n *Node) switchover(ctx context.Context, name, to string) error {
	return errors.New("ERR switchover not implemented yet")
}

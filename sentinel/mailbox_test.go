package sentinel

import (
	"slices"
	"testing"
)

func TestMailbox(t *testing.T) {
	var b mailbox[int]
	if first, ok := b.put(1); !first || !ok {
		t.Fatalf("first put: first %v ok %v", first, ok)
	}
	if first, _ := b.put(2); first {
		t.Fatal("second put reported an empty box")
	}
	msgs := b.take()
	if !slices.Equal(msgs, []int{1, 2}) {
		t.Fatalf("took %v", msgs)
	}
	b.done(msgs)
	if first, _ := b.put(3); !first {
		t.Fatal("put after a take did not report an empty box")
	}
	if left := b.close(); !slices.Equal(left, []int{3}) {
		t.Fatalf("close returned %v", left)
	}
	if first, ok := b.put(4); first || ok {
		t.Fatalf("put after close: first %v ok %v", first, ok)
	}
	if got := b.take(); len(got) != 0 {
		t.Fatalf("took %v after close", got)
	}
}

// A runnable example of the state machine, shown by go doc beside State.Apply.

package game_test

import (
	"fmt"

	"github.com/kanna-cluster/kanna/game"
)

// ExampleState_Apply plays a short round: the word travels in the command, a retry of the same
// (client, seq) is answered from the session without scoring twice.
func ExampleState_Apply() {
	s := game.NewState()
	s.Apply(game.Command{Kind: game.KindCreateRoom, ClientID: "web-1", Seq: 1, Room: "den", Word: "tohru"})
	s.Apply(game.Command{Kind: game.KindJoin, ClientID: "web-1", Seq: 2, Room: "den", Player: "kanna"})

	guess := game.Command{Kind: game.KindGuess, ClientID: "web-1", Seq: 3, Room: "den", Player: "kanna", Letter: "O"}
	first := s.Apply(guess)
	retry := s.Apply(guess)
	fmt.Println(first.Hit, first.Points, retry == first)

	miss := s.Apply(game.Command{Kind: game.KindGuess, ClientID: "web-1", Seq: 4, Room: "den", Player: "kanna", Letter: "z"})
	fmt.Println(miss.Hit, miss.Error())

	late := s.Apply(game.Command{Kind: game.KindGuess, ClientID: "web-1", Seq: 5, Room: "cave", Player: "kanna", Letter: "a"})
	fmt.Println(game.CodeOf(late.Error()))

	v, _ := s.Room("den")
	fmt.Printf("%s lives=%d misses=%s score=%d\n", v.Masked, v.Lives, v.Misses, v.Players[0].Score)
	// Output:
	// true 1 true
	// false <nil>
	// NotFound
	// _o___ lives=5 misses=z score=1
}

// Package client sends behavioural events to The Eye from Go programs.
//
// A [Client] keeps the events given to [Client.Track] in a bounded
// in-memory buffer and sends them from a background goroutine to the API's
// POST /events/batch/, in batches of a size or after an interval, whichever
// comes first. Track never waits for the network.
//
// Every event carries an event_id (a random one when the caller gave none),
// so the API stores an event once however many times it is sent: a batch
// that got no answer, a 429 or a 5xx is sent again, with exponential
// backoff and jitter, waiting at least as long as the answer's Retry-After
// says. Other refusals (4xx) are not retried. Events that are not delivered
// are never dropped silently: they are reported to the error handler (see
// [WithErrorHandler]) as a [*DeliveryError] naming them, or logged when
// there is none.
//
// [Client.Flush] sends what is buffered and waits for the answers;
// [Client.Close] does the same and stops the client. A program must call
// Close before it exits, or the buffered events are lost.
//
//	c, err := client.New("http://127.0.0.1:8000", os.Getenv("EYE_KEY"))
//	if err != nil {
//		log.Fatal(err)
//	}
//	session := client.NewSessionID()
//	if err := c.Track(ctx, client.Pageview(session, "www.example.com", "/")); err != nil {
//		log.Print(err)
//	}
//	if err := c.Close(ctx); err != nil {
//		log.Print(err)
//	}
//
// The package uses the standard library only.
package client

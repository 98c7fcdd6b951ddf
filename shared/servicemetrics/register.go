package servicemetrics

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Register registers *c with reg. When an identical collector is already
// registered (a second service on the same registry) *c becomes that one,
// so both count into the series that is exported; any other failure is
// appended to errs.
func Register[C prometheus.Collector](reg prometheus.Registerer, c *C, errs *[]error) {
	err := reg.Register(*c)
	if err == nil {
		return
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			*c = existing
			return
		}
	}
	*errs = append(*errs, err)
}

package pgstore

import (
	"log/slog"

	"github.com/userprops/userprops"
)

// config holds the settings of this package's Options.
type config struct {
	log *slog.Logger
}

// setting is a pgstore-only Option's setting (see userprops.BackendOption).
type setting func(*config)

func newConfig(opts []userprops.Option) config {
	c := config{log: slog.Default()}
	for _, set := range userprops.BackendSettings[setting](opts) {
		set(&c)
	}
	return c
}

// WithLogger sets where Open and AddIndex log the progress of an index
// build (slog.Default() if not given). Other stores ignore it.
func WithLogger(log *slog.Logger) userprops.Option {
	return userprops.BackendOption(setting(func(c *config) {
		if log != nil {
			c.log = log
		}
	}))
}

package fetch

import (
	"testing"

	"github.com/greypm/grey/internal/config"
)

// TestConfigKnowsFetchKeys: every setting FromConfig reads is one that
// -o accepts (config.Check), so the two lists cannot drift.
func TestConfigKnowsFetchKeys(t *testing.T) {
	for _, k := range []string{KeyHTTPProxy, KeyHTTPProxy + "::host", KeyHTTPSProxy, KeyHTTPSProxy + "::host", KeyNoProxy,
		KeyCAFile, KeyTimeout, "Acquire::https::Timeout", KeyLowSpeedLimit, KeyLowSpeedTime, KeyMaxTime, KeyRetries} {
		if err := config.Check(k); err != nil {
			t.Error(err)
		}
	}
}

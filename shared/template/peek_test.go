package template

import (
	"encoding/json"
	"fmt"
	"testing"
)

func TestPeek(t *testing.T) {
	for _, f := range []string{"rust/diamond_pattern.yaml", "rust/conditional_approval_rust.yaml", "rust/batch_processing_products_csv.yaml"} {
		tpls, err := ParseFile(fixture(t, f), ParseOptions{})
		if err != nil {
			t.Fatal(err)
		}
		fmt.Println(tpls[0].Mermaid(nil))
	}
	tpls, _ := ParseFile(fixture(t, "rust/batch_processing_products_csv.yaml"), ParseOptions{})
	fmt.Println(tpls[0].Mermaid(map[string]string{"analyze_csv": "complete", "process_csv_batch_001": "complete", "process_csv_batch_002": "in_progress", "aggregate_csv_results": "pending"}))
	tpls, _ = ParseFile(fixture(t, "rust/mathematical_sequence.yaml"), ParseOptions{Environment: "development"})
	b, _ := json.MarshalIndent(tpls[0], "", "  ")
	fmt.Println(string(b)[:2500])
}

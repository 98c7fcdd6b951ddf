package native

import (
	"context"
	"errors"
	"sort"
	"strconv"

	"github.com/tasker-go/tasker/worker"
)

// The analytics pipeline (tasker-core's analytics_pipeline_rs): three
// independent extracts (sales, inventory, customers), one transform each,
// aggregate_metrics joining the three, generate_insights on top. The
// extracts return fixed sample records, so every figure is deterministic.

const (
	stepExtractSales      = "extract_sales_data"
	stepExtractInventory  = "extract_inventory_data"
	stepExtractCustomers  = "extract_customer_data"
	stepTransformSales    = "transform_sales"
	stepTransformInvent   = "transform_inventory"
	stepTransformCustomer = "transform_customers"
	stepAggregateMetrics  = "aggregate_metrics"
)

type saleRecord struct {
	OrderID    string  `json:"order_id"`
	Date       string  `json:"date"`
	Region     string  `json:"region"`
	ProductID  string  `json:"product_id"`
	CustomerID string  `json:"customer_id"`
	Quantity   int     `json:"quantity"`
	Amount     float64 `json:"amount"`
}

type inventoryRecord struct {
	ProductID    string `json:"product_id"`
	Warehouse    string `json:"warehouse"`
	OnHand       int    `json:"quantity_on_hand"`
	ReorderPoint int    `json:"reorder_point"`
}

type customerRecord struct {
	CustomerID    string  `json:"customer_id"`
	Name          string  `json:"name"`
	Tier          string  `json:"tier"`
	LifetimeValue float64 `json:"lifetime_value"`
	JoinDate      string  `json:"join_date"`
}

var sampleSales = []saleRecord{
	{"ORD-1001", "2025-01-02", "north", "PROD-A", "CUST-001", 5, 499.95},
	{"ORD-1002", "2025-01-03", "south", "PROD-B", "CUST-002", 2, 299.98},
	{"ORD-1003", "2025-01-05", "north", "PROD-C", "CUST-003", 10, 199.90},
	{"ORD-1004", "2025-01-08", "east", "PROD-A", "CUST-001", 3, 299.97},
	{"ORD-1005", "2025-01-09", "west", "PROD-B", "CUST-004", 1, 149.99},
	{"ORD-1006", "2025-01-12", "south", "PROD-C", "CUST-005", 4, 79.96},
}

var sampleInventory = []inventoryRecord{
	{"PROD-A", "WH-EAST", 120, 50},
	{"PROD-A", "WH-WEST", 30, 50},
	{"PROD-B", "WH-EAST", 75, 25},
	{"PROD-C", "WH-WEST", 15, 40},
	{"PROD-C", "WH-EAST", 210, 40},
}

var sampleCustomers = []customerRecord{
	{"CUST-001", "Ada Park", "gold", 5200.00, "2021-03-14"},
	{"CUST-002", "Ben Ortiz", "silver", 1800.50, "2022-07-01"},
	{"CUST-003", "Chen Wu", "bronze", 420.25, "2023-11-20"},
	{"CUST-004", "Dana Lee", "gold", 7350.75, "2020-01-09"},
	{"CUST-005", "Eli Novak", "bronze", 260.00, "2024-05-30"},
}

// extractResult is what an extract step returns.
type extractResult[T any] struct {
	Source      string         `json:"source"`
	Records     []T            `json:"records"`
	RecordCount int            `json:"record_count"`
	DateRange   map[string]any `json:"date_range,omitempty"`
	PipelineID  string         `json:"pipeline_id,omitempty"`
}

// pipelineInput is the part of the task context the extracts echo.
type pipelineInput struct {
	DateRange  map[string]any `json:"date_range"`
	PipelineID string         `json:"pipeline_id"`
}

func extract[T any](source string, records []T) worker.HandlerFunc[pipelineInput, extractResult[T]] {
	return func(_ context.Context, step *worker.Step[pipelineInput]) (extractResult[T], error) {
		return extractResult[T]{Source: source, Records: records, RecordCount: len(records),
			DateRange: step.Input.DateRange, PipelineID: step.Input.PipelineID}, nil
	}
}

// salesSummary is the result of transform_sales.
type salesSummary struct {
	TotalRevenue float64            `json:"total_revenue"`
	TotalUnits   int                `json:"total_units"`
	OrderCount   int                `json:"order_count"`
	AverageOrder float64            `json:"average_order_value"`
	ByRegion     map[string]float64 `json:"revenue_by_region"`
	ByProduct    map[string]float64 `json:"revenue_by_product"`
	TopRegion    string             `json:"top_region"`
	TopProduct   string             `json:"top_product"`
	RecordsRead  int                `json:"records_processed"`
	Customers    int                `json:"unique_customers"`
}

func transformSales(_ context.Context, step *worker.Step[struct{}]) (salesSummary, error) {
	in, err := worker.Dependency[extractResult[saleRecord]](step, stepExtractSales)
	if err != nil {
		return salesSummary{}, err
	}
	var s salesSummary
	var revenue int64
	byRegion, byProduct := map[string]int64{}, map[string]int64{}
	customers := map[string]bool{}
	for _, r := range in.Records {
		c := cents(r.Amount)
		revenue += c
		byRegion[r.Region] += c
		byProduct[r.ProductID] += c
		s.TotalUnits += r.Quantity
		customers[r.CustomerID] = true
	}
	s.OrderCount, s.RecordsRead, s.Customers = len(in.Records), len(in.Records), len(customers)
	s.TotalRevenue = units(revenue)
	if s.OrderCount > 0 {
		s.AverageOrder = units(roundDiv(revenue, int64(s.OrderCount)))
	}
	s.ByRegion, s.TopRegion = centsMap(byRegion)
	s.ByProduct, s.TopProduct = centsMap(byProduct)
	return s, nil
}

// inventorySummary is the result of transform_inventory.
type inventorySummary struct {
	TotalUnits       int            `json:"total_units"`
	Warehouses       int            `json:"warehouse_count"`
	Products         int            `json:"product_count"`
	UnitsByWarehouse map[string]int `json:"units_by_warehouse"`
	UnitsByProduct   map[string]int `json:"units_by_product"`
	ReorderAlerts    []string       `json:"reorder_alerts"` // product@warehouse below its reorder point
	RecordsRead      int            `json:"records_processed"`
}

func transformInventory(_ context.Context, step *worker.Step[struct{}]) (inventorySummary, error) {
	in, err := worker.Dependency[extractResult[inventoryRecord]](step, stepExtractInventory)
	if err != nil {
		return inventorySummary{}, err
	}
	s := inventorySummary{UnitsByWarehouse: map[string]int{}, UnitsByProduct: map[string]int{}, ReorderAlerts: []string{},
		RecordsRead: len(in.Records)}
	for _, r := range in.Records {
		s.TotalUnits += r.OnHand
		s.UnitsByWarehouse[r.Warehouse] += r.OnHand
		s.UnitsByProduct[r.ProductID] += r.OnHand
		if r.OnHand < r.ReorderPoint {
			s.ReorderAlerts = append(s.ReorderAlerts, r.ProductID+"@"+r.Warehouse)
		}
	}
	sort.Strings(s.ReorderAlerts)
	s.Warehouses, s.Products = len(s.UnitsByWarehouse), len(s.UnitsByProduct)
	return s, nil
}

// customerSummary is the result of transform_customers.
type customerSummary struct {
	TotalCustomers       int            `json:"total_customers"`
	ByTier               map[string]int `json:"customers_by_tier"`
	TotalLifetimeValue   float64        `json:"total_lifetime_value"`
	AverageLifetimeValue float64        `json:"average_lifetime_value"`
	HighValueCustomers   []string       `json:"high_value_customers"` // lifetime value ≥ 5000
	RecordsRead          int            `json:"records_processed"`
}

func transformCustomers(_ context.Context, step *worker.Step[struct{}]) (customerSummary, error) {
	in, err := worker.Dependency[extractResult[customerRecord]](step, stepExtractCustomers)
	if err != nil {
		return customerSummary{}, err
	}
	s := customerSummary{ByTier: map[string]int{}, HighValueCustomers: []string{}, RecordsRead: len(in.Records),
		TotalCustomers: len(in.Records)}
	var total int64
	for _, r := range in.Records {
		c := cents(r.LifetimeValue)
		total += c
		s.ByTier[r.Tier]++
		if c >= 500000 {
			s.HighValueCustomers = append(s.HighValueCustomers, r.CustomerID)
		}
	}
	sort.Strings(s.HighValueCustomers)
	s.TotalLifetimeValue = units(total)
	if s.TotalCustomers > 0 {
		s.AverageLifetimeValue = units(roundDiv(total, int64(s.TotalCustomers)))
	}
	return s, nil
}

// metrics is the result of aggregate_metrics.
type metrics struct {
	TotalRevenue       float64 `json:"total_revenue"`
	TotalOrders        int     `json:"total_orders"`
	TotalUnitsSold     int     `json:"total_units_sold"`
	TotalInventory     int     `json:"total_inventory_units"`
	TotalCustomers     int     `json:"total_customers"`
	RevenuePerCustomer float64 `json:"revenue_per_customer"`
	SellThroughPercent float64 `json:"sell_through_percent"` // units sold / (sold + on hand)
	ReorderAlerts      int     `json:"reorder_alert_count"`
	TopRegion          string  `json:"top_region"`
	TopProduct         string  `json:"top_product"`
	RecordsProcessed   int     `json:"records_processed"`
	SourcesJoined      int     `json:"sources_joined"`
}

func aggregateMetrics(_ context.Context, step *worker.Step[struct{}]) (metrics, error) {
	sales, err := worker.Dependency[salesSummary](step, stepTransformSales)
	if err != nil {
		return metrics{}, err
	}
	inv, err := worker.Dependency[inventorySummary](step, stepTransformInvent)
	if err != nil {
		return metrics{}, err
	}
	cust, err := worker.Dependency[customerSummary](step, stepTransformCustomer)
	if err != nil {
		return metrics{}, err
	}
	revenue := cents(sales.TotalRevenue)
	m := metrics{
		TotalRevenue:     units(revenue),
		TotalOrders:      sales.OrderCount,
		TotalUnitsSold:   sales.TotalUnits,
		TotalInventory:   inv.TotalUnits,
		TotalCustomers:   cust.TotalCustomers,
		ReorderAlerts:    len(inv.ReorderAlerts),
		TopRegion:        sales.TopRegion,
		TopProduct:       sales.TopProduct,
		RecordsProcessed: sales.RecordsRead + inv.RecordsRead + cust.RecordsRead,
		SourcesJoined:    3,
	}
	if m.TotalCustomers > 0 {
		m.RevenuePerCustomer = units(roundDiv(revenue, int64(m.TotalCustomers)))
	}
	if d := m.TotalUnitsSold + m.TotalInventory; d > 0 {
		// Percent with two decimals, computed in hundredths of a percent.
		m.SellThroughPercent = units(roundDiv(int64(m.TotalUnitsSold)*10000, int64(d)))
	}
	return m, nil
}

// insight is one finding of generate_insights.
type insight struct {
	Category string `json:"category"`
	Severity string `json:"severity"` // info, warning
	Message  string `json:"message"`
}

// insights is the result of generate_insights.
type insights struct {
	Insights    []insight `json:"insights"`
	HealthScore int       `json:"health_score"` // 0–100
	Rating      string    `json:"rating"`
	Metrics     metrics   `json:"metrics"`
}

func generateInsights(_ context.Context, step *worker.Step[struct{}]) (insights, error) {
	m, err := worker.Dependency[metrics](step, stepAggregateMetrics)
	if err != nil {
		return insights{}, err
	}
	out := insights{Metrics: m, HealthScore: 100}
	add := func(cat, sev, msg string, penalty int) {
		out.Insights = append(out.Insights, insight{Category: cat, Severity: sev, Message: msg})
		out.HealthScore -= penalty
	}
	add("sales", "info", "top region by revenue: "+m.TopRegion, 0)
	add("sales", "info", "top product by revenue: "+m.TopProduct, 0)
	if m.ReorderAlerts > 0 {
		add("inventory", "warning", strconv.Itoa(m.ReorderAlerts)+" stock positions are below their reorder point", 10*m.ReorderAlerts)
	}
	if m.SellThroughPercent < 10 {
		add("inventory", "warning", "sell-through is below 10 %: stock is turning slowly", 15)
	}
	if m.RevenuePerCustomer < 100 {
		add("customers", "warning", "revenue per customer is below 100.00", 10)
	}
	out.HealthScore = max(out.HealthScore, 0)
	switch {
	case out.HealthScore >= 80:
		out.Rating = "healthy"
	case out.HealthScore >= 50:
		out.Rating = "needs_attention"
	default:
		out.Rating = "critical"
	}
	return out, nil
}

// centsMap converts a cents map to currency units and names its largest
// entry (ties broken by name).
func centsMap(m map[string]int64) (map[string]float64, string) {
	out := make(map[string]float64, len(m))
	top, best := "", int64(-1)
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		out[k] = units(m[k])
		if m[k] > best {
			top, best = k, m[k]
		}
	}
	return out, top
}

// roundDiv divides non-negative a by positive b, rounding half up.
func roundDiv(a, b int64) int64 { return (2*a + b) / (2 * b) }

func registerDataPipeline(r *worker.Registry) error {
	return errors.Join(
		worker.Register(r, "data_pipeline_extract_sales", extract("sales_database", sampleSales)),
		worker.Register(r, "data_pipeline_extract_inventory", extract("warehouse_system", sampleInventory)),
		worker.Register(r, "data_pipeline_extract_customers", extract("crm", sampleCustomers)),
		worker.Register(r, "data_pipeline_transform_sales", worker.Func(transformSales)),
		worker.Register(r, "data_pipeline_transform_inventory", worker.Func(transformInventory)),
		worker.Register(r, "data_pipeline_transform_customers", worker.Func(transformCustomers)),
		worker.Register(r, "data_pipeline_aggregate_metrics", worker.Func(aggregateMetrics)),
		worker.Register(r, "data_pipeline_generate_insights", worker.Func(generateInsights)),
	)
}

"""Analytics pipeline (templates data_pipeline_analytics_pipeline_py and its
_dsl_py twin): three extracts -> three transforms -> aggregate -> insights,
over fixed sample data (revenue 3199.73 from 5 sales, 575 units on hand, 5
customers worth 30,500; health score 100 "Excellent")."""

from collections import defaultdict
from datetime import datetime, timezone

from tasker_core import PermanentError, StepHandler, StepHandlerResult
from tasker_core.step_handler.functional import depends_on, step_handler

SALES = [
    {"order_id": "ORD-001", "date": "2025-11-01", "product_id": "PROD-A", "quantity": 5, "amount": 499.95},
    {"order_id": "ORD-002", "date": "2025-11-05", "product_id": "PROD-B", "quantity": 3, "amount": 299.97},
    {"order_id": "ORD-003", "date": "2025-11-10", "product_id": "PROD-A", "quantity": 2, "amount": 199.98},
    {"order_id": "ORD-004", "date": "2025-11-15", "product_id": "PROD-C", "quantity": 10, "amount": 1499.9},
    {"order_id": "ORD-005", "date": "2025-11-18", "product_id": "PROD-B", "quantity": 7, "amount": 699.93},
]
INVENTORY = [
    {"product_id": "PROD-A", "sku": "SKU-A-001", "warehouse": "WH-01", "quantity_on_hand": 150, "reorder_point": 50},
    {"product_id": "PROD-B", "sku": "SKU-B-002", "warehouse": "WH-01", "quantity_on_hand": 75, "reorder_point": 25},
    {"product_id": "PROD-C", "sku": "SKU-C-003", "warehouse": "WH-02", "quantity_on_hand": 200, "reorder_point": 100},
    {"product_id": "PROD-A", "sku": "SKU-A-001", "warehouse": "WH-02", "quantity_on_hand": 100, "reorder_point": 50},
    {"product_id": "PROD-B", "sku": "SKU-B-002", "warehouse": "WH-03", "quantity_on_hand": 50, "reorder_point": 25},
]
CUSTOMERS = [
    {"customer_id": "CUST-001", "name": "Alice Johnson", "tier": "gold", "lifetime_value": 5000.0, "join_date": "2024-01-15"},
    {"customer_id": "CUST-002", "name": "Bob Smith", "tier": "silver", "lifetime_value": 2500.0, "join_date": "2024-03-20"},
    {"customer_id": "CUST-003", "name": "Carol White", "tier": "premium", "lifetime_value": 15000.0, "join_date": "2023-11-10"},
    {"customer_id": "CUST-004", "name": "David Brown", "tier": "standard", "lifetime_value": 500.0, "join_date": "2025-01-05"},
    {"customer_id": "CUST-005", "name": "Eve Davis", "tier": "gold", "lifetime_value": 7500.0, "join_date": "2024-06-12"},
]


def _now():
    return datetime.now(timezone.utc).isoformat()


def _group(records, key):
    groups = defaultdict(list)
    for r in records:
        groups[r[key]].append(r)
    return groups


def extract_sales():
    dates = [r["date"] for r in SALES]
    return {"records": SALES, "extracted_at": _now(), "source": "SalesDatabase",
            "total_amount": sum(r["amount"] for r in SALES), "date_range": {"start_date": min(dates), "end_date": max(dates)}}


def extract_inventory():
    return {"records": INVENTORY, "extracted_at": _now(), "source": "InventorySystem",
            "total_quantity": sum(r["quantity_on_hand"] for r in INVENTORY),
            "warehouses": sorted({r["warehouse"] for r in INVENTORY}),
            "products_tracked": len({r["product_id"] for r in INVENTORY})}


def extract_customers():
    tiers = {t: len(rs) for t, rs in _group(CUSTOMERS, "tier").items()}
    total = sum(r["lifetime_value"] for r in CUSTOMERS)
    return {"records": CUSTOMERS, "extracted_at": _now(), "source": "CRMSystem", "total_customers": len(CUSTOMERS),
            "total_lifetime_value": total, "tier_breakdown": tiers, "avg_lifetime_value": total / len(CUSTOMERS)}


def _records(extracted, what):
    if not extracted:
        raise PermanentError(f"{what} extraction results not found", error_code="MISSING_EXTRACT_RESULTS")
    return extracted.get("records", [])


def transform_sales(extracted):
    rows = _records(extracted, "Sales")
    daily = {d: {"total_amount": sum(r["amount"] for r in rs), "order_count": len(rs),
                 "avg_order_value": sum(r["amount"] for r in rs) / len(rs)} for d, rs in _group(rows, "date").items()}
    products = {p: {"total_quantity": sum(r["quantity"] for r in rs), "total_revenue": sum(r["amount"] for r in rs),
                    "order_count": len(rs)} for p, rs in _group(rows, "product_id").items()}
    return {"record_count": len(rows), "daily_sales": daily, "product_sales": products,
            "total_revenue": sum(r["amount"] for r in rows), "transformation_type": "sales_analytics",
            "source": "extract_sales_data"}


def transform_inventory(extracted):
    rows = _records(extracted, "Inventory")
    warehouses = {w: {"total_quantity": sum(r["quantity_on_hand"] for r in rs),
                      "product_count": len({r["product_id"] for r in rs}),
                      "reorder_alerts": sum(1 for r in rs if r["quantity_on_hand"] <= r["reorder_point"])}
                  for w, rs in _group(rows, "warehouse").items()}
    products = {p: {"total_quantity": sum(r["quantity_on_hand"] for r in rs),
                    "warehouse_count": len({r["warehouse"] for r in rs}),
                    "needs_reorder": sum(r["quantity_on_hand"] for r in rs) < sum(r["reorder_point"] for r in rs)}
                for p, rs in _group(rows, "product_id").items()}
    return {"record_count": len(rows), "warehouse_summary": warehouses, "product_inventory": products,
            "total_quantity_on_hand": sum(r["quantity_on_hand"] for r in rows),
            "reorder_alerts": sum(1 for p in products.values() if p["needs_reorder"]),
            "transformation_type": "inventory_analytics", "source": "extract_inventory_data"}


def transform_customers(extracted):
    rows = _records(extracted, "Customer")
    tiers = {t: {"customer_count": len(rs), "total_lifetime_value": sum(r["lifetime_value"] for r in rs),
                 "avg_lifetime_value": sum(r["lifetime_value"] for r in rs) / len(rs)}
             for t, rs in _group(rows, "tier").items()}
    ltv = [r["lifetime_value"] for r in rows]
    segments = {"high_value": sum(1 for v in ltv if v >= 10000), "medium_value": sum(1 for v in ltv if 1000 <= v < 10000),
                "low_value": sum(1 for v in ltv if v < 1000)}
    return {"record_count": len(rows), "tier_analysis": tiers, "value_segments": segments,
            "total_lifetime_value": sum(ltv), "avg_customer_value": sum(ltv) / len(rows) if rows else 0,
            "transformation_type": "customer_analytics", "source": "extract_customer_data"}


def aggregate_metrics(sales, inventory, customers):
    missing = [n for n, v in (("transform_sales", sales), ("transform_inventory", inventory),
                              ("transform_customers", customers)) if not v]
    if missing:
        raise PermanentError(f"Missing transform results: {', '.join(missing)}", error_code="MISSING_TRANSFORM_RESULTS")
    revenue, on_hand, count = sales.get("total_revenue", 0), inventory.get("total_quantity_on_hand", 0), customers.get("record_count", 0)
    return {"total_revenue": revenue, "total_inventory_quantity": on_hand, "total_customers": count,
            "total_customer_lifetime_value": customers.get("total_lifetime_value", 0),
            "sales_transactions": sales.get("record_count", 0), "inventory_reorder_alerts": inventory.get("reorder_alerts", 0),
            "revenue_per_customer": round(revenue / count if count > 0 else 0, 2),
            "inventory_turnover_indicator": round(revenue / on_hand if on_hand > 0 else 0, 4),
            "aggregation_complete": True, "sources_included": 3}


def generate_insights(metrics):
    if not metrics:
        raise PermanentError("Aggregated metrics not found", error_code="MISSING_AGGREGATE_RESULTS")
    revenue, customers = metrics.get("total_revenue", 0), metrics.get("total_customers", 0)
    per_customer, alerts = metrics.get("revenue_per_customer", 0), metrics.get("inventory_reorder_alerts", 0)
    avg_ltv = metrics.get("total_customer_lifetime_value", 0) / customers if customers > 0 else 0
    insights = []
    if revenue > 0:
        insights.append({"category": "Revenue", "finding": f"Total revenue of ${revenue} with {customers} customers",
                         "metric": per_customer, "recommendation": "Consider upselling strategies" if per_customer < 500
                         else "Customer spend is healthy"})
    insights.append({"category": "Inventory", "finding": f"{alerts} products need reordering" if alerts
                     else "All products above reorder points", "metric": alerts,
                     "recommendation": "Review reorder points and place purchase orders" if alerts
                     else "Inventory levels are healthy"})
    insights.append({"category": "Customer Value", "finding": f"Average customer lifetime value: ${avg_ltv:.2f}",
                     "metric": avg_ltv, "recommendation": "Focus on retention programs" if avg_ltv > 3000
                     else "Increase customer engagement"})
    score = (40 if per_customer > 500 else 0) + (30 if alerts == 0 else 0) + (30 if avg_ltv > 3000 else 0)
    rating = "Excellent" if score >= 80 else "Good" if score >= 60 else "Fair" if score >= 40 else "Needs Improvement"
    return {"insights": insights, "health_score": {"score": score, "max_score": 100, "rating": rating},
            "total_metrics_analyzed": len(metrics), "pipeline_complete": True, "generated_at": _now()}


def _class(name, compute, deps=()):
    """A class handler computing ``compute(*dependency results)``."""

    def call(self, context):
        return StepHandlerResult.success(compute(*(context.get_dependency_result(d) for d in deps)),
                                         {"operation": compute.__name__})

    return type(name, (StepHandler,), {"handler_name": f"data_pipeline.step_handlers.{name}", "call": call})


ExtractSalesDataHandler = _class("ExtractSalesDataHandler", extract_sales)
ExtractInventoryDataHandler = _class("ExtractInventoryDataHandler", extract_inventory)
ExtractCustomerDataHandler = _class("ExtractCustomerDataHandler", extract_customers)
TransformSalesHandler = _class("TransformSalesHandler", transform_sales, ["extract_sales_data"])
TransformInventoryHandler = _class("TransformInventoryHandler", transform_inventory, ["extract_inventory_data"])
TransformCustomersHandler = _class("TransformCustomersHandler", transform_customers, ["extract_customer_data"])
AggregateMetricsHandler = _class("AggregateMetricsHandler", aggregate_metrics,
                                 ["transform_sales", "transform_inventory", "transform_customers"])
GenerateInsightsHandler = _class("GenerateInsightsHandler", generate_insights, ["aggregate_metrics"])

DSL = "data_pipeline_dsl_py.step_handlers."


@step_handler(DSL + "extract_sales_data")
def extract_sales_data_dsl():
    return extract_sales()


@step_handler(DSL + "extract_inventory_data")
def extract_inventory_data_dsl():
    return extract_inventory()


@step_handler(DSL + "extract_customer_data")
def extract_customer_data_dsl():
    return extract_customers()


@step_handler(DSL + "transform_sales")
@depends_on(extracted="extract_sales_data_dsl_py")
def transform_sales_dsl(extracted):
    return transform_sales(extracted)


@step_handler(DSL + "transform_inventory")
@depends_on(extracted="extract_inventory_data_dsl_py")
def transform_inventory_dsl(extracted):
    return transform_inventory(extracted)


@step_handler(DSL + "transform_customers")
@depends_on(extracted="extract_customer_data_dsl_py")
def transform_customers_dsl(extracted):
    return transform_customers(extracted)


@step_handler(DSL + "aggregate_metrics")
@depends_on(sales="transform_sales_dsl_py", inventory="transform_inventory_dsl_py", customers="transform_customers_dsl_py")
def aggregate_metrics_dsl(sales, inventory, customers):
    return aggregate_metrics(sales, inventory, customers)


@step_handler(DSL + "generate_insights")
@depends_on(metrics="aggregate_metrics_dsl_py")
def generate_insights_dsl(metrics):
    return generate_insights(metrics)

"""User registration across services (templates
microservices_user_registration_py and its _dsl_py twin): create account ->
billing and preferences in parallel -> welcome sequence -> activate."""

import re
import uuid
from datetime import datetime, timedelta, timezone

from tasker_core import StepHandler, StepHandlerResult
from tasker_core.step_handler.functional import depends_on, inputs, step_handler

EXISTING_USERS = {"existing@example.com": {"id": "user_existing_001", "email": "existing@example.com",
                                           "name": "Existing User", "plan": "free", "created_at": "2025-01-01T00:00:00Z"}}
BILLING_TIERS = {
    "free": {"price": 0, "features": ["basic_features"], "billing_required": False},
    "pro": {"price": 29.99, "features": ["basic_features", "advanced_analytics"], "billing_required": True},
    "enterprise": {"price": 299.99, "features": ["basic_features", "advanced_analytics", "priority_support",
                                                 "custom_integrations"], "billing_required": True},
}
_BASE_PREFS = {"email_notifications": True, "product_updates": True, "language": "en", "timezone": "UTC"}
DEFAULT_PREFERENCES = {
    "free": {**_BASE_PREFS, "marketing_emails": False, "weekly_digest": False, "theme": "light"},
    "pro": {**_BASE_PREFS, "marketing_emails": True, "weekly_digest": True, "theme": "dark", "api_notifications": True},
    "enterprise": {**_BASE_PREFS, "marketing_emails": True, "weekly_digest": True, "theme": "dark",
                   "api_notifications": True, "audit_logs": True, "advanced_reports": True},
}
SERVICES = ["user_service", "billing_service", "preferences_service", "notification_service"]


def _now():
    return datetime.now(timezone.utc).isoformat()


def _fail(message, code):
    return StepHandlerResult.failure(message, retryable=False, error_code=code)


def create_user_account(user_info):
    user_info = user_info or {}
    email, name = user_info.get("email"), user_info.get("name")
    if not email:
        return _fail("Email is required but was not provided", "MISSING_EMAIL")
    if not name:
        return _fail("Name is required but was not provided", "MISSING_NAME")
    if not re.match(r"^[\w+\-.]+@[a-z\d\-]+(\.[a-z\d\-]+)*\.[a-z]+$", email, re.IGNORECASE):
        return _fail(f"Invalid email format: {email}", "INVALID_EMAIL_FORMAT")
    plan = user_info.get("plan", "free")
    existing = EXISTING_USERS.get(email)
    if existing:
        if (existing["name"], existing["plan"]) != (name, plan):
            return _fail(f"User with email {email} already exists with different data", "USER_CONFLICT")
        return StepHandlerResult.success({"user_id": existing["id"], "email": email, "plan": plan,
                                          "status": "already_exists", "created_at": existing["created_at"]})
    return StepHandlerResult.success({"user_id": f"user_{uuid.uuid4().hex[:12]}", "email": email, "name": name,
                                      "plan": plan, "phone": user_info.get("phone"),
                                      "source": user_info.get("source", "web"), "status": "created", "created_at": _now()})


def setup_billing(user):
    if not user:
        return _fail("User data not found from create_user_account step", "MISSING_USER_DATA")
    plan = user.get("plan") or "free"
    tier = BILLING_TIERS.get(plan, BILLING_TIERS["free"])
    if not tier["billing_required"]:
        return StepHandlerResult.success({"user_id": user.get("user_id"), "plan": plan, "billing_required": False,
                                          "status": "skipped_free_plan",
                                          "message": "Free plan users do not require billing setup"})
    now = datetime.now(timezone.utc)
    return StepHandlerResult.success({"billing_id": f"billing_{uuid.uuid4().hex[:12]}", "user_id": user.get("user_id"),
                                      "plan": plan, "price": tier["price"], "currency": "USD", "billing_cycle": "monthly",
                                      "features": tier["features"], "status": "active",
                                      "next_billing_date": (now + timedelta(days=30)).isoformat(),
                                      "created_at": now.isoformat()})


def initialize_preferences(user, user_info):
    if not user:
        return _fail("User data not found from create_user_account step", "MISSING_USER_DATA")
    plan = user.get("plan") or "free"
    defaults = DEFAULT_PREFERENCES.get(plan, DEFAULT_PREFERENCES["free"])
    custom = (user_info or {}).get("preferences", {})
    now = _now()
    return StepHandlerResult.success({"preferences_id": f"prefs_{uuid.uuid4().hex[:12]}", "user_id": user.get("user_id"),
                                      "plan": plan, "preferences": {**defaults, **custom},
                                      "defaults_applied": len(defaults), "customizations": len(custom),
                                      "status": "active", "created_at": now, "updated_at": now})


def _missing(**deps):
    return [name for name, value in deps.items() if not value]


def send_welcome(user, billing, prefs):
    missing = _missing(create_user_account=user, setup_billing_profile=billing, initialize_preferences=prefs)
    if missing:
        return _fail(f"Missing results from steps: {', '.join(missing)}", "MISSING_DEPENDENCY_DATA")
    plan = user.get("plan") or "free"
    channels = (["email"] if prefs.get("preferences", {}).get("email_notifications", True) else []) + ["in_app"]
    if plan == "enterprise":
        channels.append("sms")
    return StepHandlerResult.success({"user_id": user.get("user_id"), "plan": plan, "channels_used": channels,
                                      "messages_sent": len(channels), "welcome_sequence_id": f"welcome_{uuid.uuid4().hex[:12]}",
                                      "status": "sent", "sent_at": _now()})


def update_user_status(user, billing, prefs, welcome):
    missing = _missing(create_user_account=user, setup_billing_profile=billing, initialize_preferences=prefs,
                       send_welcome_sequence=welcome)
    if missing:
        return _fail(f"Cannot complete registration: missing results from steps: {', '.join(missing)}", "INCOMPLETE_WORKFLOW")
    plan = user.get("plan") or "free"
    summary = {"user_id": user.get("user_id"), "email": user.get("email"), "plan": plan, "registration_status": "complete"}
    if plan != "free" and billing.get("billing_id"):
        summary.update(billing_id=billing["billing_id"], next_billing_date=billing.get("next_billing_date"))
    summary.update(preferences_count=len(prefs.get("preferences") or {}), welcome_sent=True,
                   notification_channels=welcome.get("channels_used", []), user_created_at=user.get("created_at"),
                   registration_completed_at=_now())
    return StepHandlerResult.success({"user_id": user.get("user_id"), "status": "active", "plan": plan,
                                      "registration_summary": summary, "activation_timestamp": _now(),
                                      "all_services_coordinated": True, "services_completed": SERVICES})


class CreateUserAccountHandler(StepHandler):
    handler_name = "microservices.step_handlers.CreateUserAccountHandler"

    def call(self, context):
        return create_user_account(context.get_input("user_info"))


class SetupBillingProfileHandler(StepHandler):
    handler_name = "microservices.step_handlers.SetupBillingProfileHandler"

    def call(self, context):
        return setup_billing(context.get_dependency_result("create_user_account"))


class InitializePreferencesHandler(StepHandler):
    handler_name = "microservices.step_handlers.InitializePreferencesHandler"

    def call(self, context):
        return initialize_preferences(context.get_dependency_result("create_user_account"), context.get_input("user_info"))


class SendWelcomeSequenceHandler(StepHandler):
    handler_name = "microservices.step_handlers.SendWelcomeSequenceHandler"

    def call(self, context):
        deps = ("create_user_account", "setup_billing_profile", "initialize_preferences")
        return send_welcome(*(context.get_dependency_result(d) for d in deps))


class UpdateUserStatusHandler(StepHandler):
    handler_name = "microservices.step_handlers.UpdateUserStatusHandler"

    def call(self, context):
        deps = ("create_user_account", "setup_billing_profile", "initialize_preferences", "send_welcome_sequence")
        return update_user_status(*(context.get_dependency_result(d) for d in deps))


DSL = "microservices_dsl_py.step_handlers."


@step_handler(DSL + "create_user_account")
@inputs("user_info")
def create_user_account_dsl(user_info):
    return create_user_account(user_info)


@step_handler(DSL + "setup_billing_profile")
@depends_on(user="create_user_account_dsl_py")
def setup_billing_profile_dsl(user):
    return setup_billing(user)


@step_handler(DSL + "initialize_preferences")
@inputs("user_info")
@depends_on(user="create_user_account_dsl_py")
def initialize_preferences_dsl(user, user_info):
    return initialize_preferences(user, user_info)


@step_handler(DSL + "send_welcome_sequence")
@depends_on(user="create_user_account_dsl_py", billing="setup_billing_profile_dsl_py", prefs="initialize_preferences_dsl_py")
def send_welcome_sequence_dsl(user, billing, prefs):
    return send_welcome(user, billing, prefs)


@step_handler(DSL + "update_user_status")
@depends_on(user="create_user_account_dsl_py", billing="setup_billing_profile_dsl_py",
            prefs="initialize_preferences_dsl_py", welcome="send_welcome_sequence_dsl_py")
def update_user_status_dsl(user, billing, prefs, welcome):
    return update_user_status(user, billing, prefs, welcome)

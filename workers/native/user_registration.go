package native

import (
	"context"
	"errors"
	"strings"

	"github.com/tasker-go/tasker/worker"
)

// Microservice user registration (tasker-core's user_registration_rs):
// create_user_account → {setup_billing_profile, initialize_preferences} →
// send_welcome_sequence → update_user_status, each step standing in for a
// call to a separate service. What the user gets depends on the plan:
// free, pro (29.99 a month) or enterprise (299.99 a month).

const (
	stepCreateUserAccount = "create_user_account"
	stepSetupBilling      = "setup_billing_profile"
	stepInitPreferences   = "initialize_preferences"
	stepWelcomeSequence   = "send_welcome_sequence"
)

// plan describes what a subscription plan includes.
type plan struct {
	PriceCents  int64
	Features    []string
	TrialDays   int
	Welcome     []string // welcome messages sent, in order
	APIRateTier string
}

var plans = map[string]plan{
	"free": {
		Features:    []string{"basic_dashboard", "community_support"},
		Welcome:     []string{"welcome", "getting_started"},
		APIRateTier: "standard",
	},
	"pro": {
		PriceCents:  2999,
		Features:    []string{"basic_dashboard", "advanced_analytics", "priority_support", "api_access"},
		TrialDays:   14,
		Welcome:     []string{"welcome", "getting_started", "pro_features_tour"},
		APIRateTier: "elevated",
	},
	"enterprise": {
		PriceCents:  29999,
		Features:    []string{"basic_dashboard", "advanced_analytics", "dedicated_support", "api_access", "sso", "audit_log"},
		TrialDays:   30,
		Welcome:     []string{"welcome", "getting_started", "enterprise_onboarding", "account_manager_intro"},
		APIRateTier: "unlimited",
	},
}

type userInfo struct {
	Email  string `json:"email"`
	Name   string `json:"name"`
	Plan   string `json:"plan"`
	Phone  string `json:"phone"`
	Source string `json:"source"`
}

// userAccount is the result of create_user_account.
type userAccount struct {
	UserID string `json:"user_id"`
	Email  string `json:"email"`
	Name   string `json:"name"`
	Plan   string `json:"plan"`
	Source string `json:"source"`
	Status string `json:"status"`
}

// registrationInput is the task context of a registration.
type registrationInput struct {
	UserInfo *userInfo `json:"user_info"`
}

func createUserAccount(_ context.Context, step *worker.Step[registrationInput]) (userAccount, error) {
	if step.Input.UserInfo == nil {
		return userAccount{}, invalid("task context has no field %q", "user_info")
	}
	u := *step.Input.UserInfo
	if u.Plan == "" {
		u.Plan = "free"
	}
	if u.Source == "" {
		u.Source = "web"
	}
	switch _, known := plans[u.Plan]; {
	case !plausibleEmail(u.Email):
		return userAccount{}, invalid("user_info.email %q is not an email address", u.Email)
	case strings.TrimSpace(u.Name) == "":
		return userAccount{}, invalid("user_info.name is required")
	case !known:
		return userAccount{}, invalid("user_info.plan %q is not one of free, pro, enterprise", u.Plan)
	}
	// The id is derived from the task, so a retried or repeated call for
	// the same registration is idempotent.
	id := step.TaskUUID()
	return userAccount{
		UserID: "usr_" + strings.ReplaceAll(id.String(), "-", "")[:16],
		Email:  strings.ToLower(u.Email), Name: u.Name, Plan: u.Plan, Source: u.Source,
		Status: "pending_activation",
	}, nil
}

// billingProfile is the result of setup_billing_profile.
type billingProfile struct {
	BillingID      string  `json:"billing_id"`
	UserID         string  `json:"user_id"`
	Plan           string  `json:"plan"`
	MonthlyPrice   float64 `json:"monthly_price"`
	TrialDays      int     `json:"trial_days"`
	PaymentNeeded  bool    `json:"payment_method_required"`
	BillingEnabled bool    `json:"billing_enabled"`
	Status         string  `json:"status"`
}

func setupBillingProfile(_ context.Context, step *worker.Step[struct{}]) (billingProfile, error) {
	acct, err := worker.Dependency[userAccount](step, stepCreateUserAccount)
	if err != nil {
		return billingProfile{}, err
	}
	p := plans[acct.Plan]
	out := billingProfile{UserID: acct.UserID, Plan: acct.Plan, MonthlyPrice: units(p.PriceCents), TrialDays: p.TrialDays,
		PaymentNeeded: p.PriceCents > 0, BillingEnabled: p.PriceCents > 0, Status: "active"}
	if p.PriceCents == 0 {
		out.Status = "not_required"
	} else {
		out.BillingID = derivedID(step, "bill_", 16)
		if p.TrialDays > 0 {
			out.Status = "trialing"
		}
	}
	return out, nil
}

// preferences is the result of initialize_preferences.
type preferences struct {
	UserID        string          `json:"user_id"`
	Plan          string          `json:"plan"`
	Notifications map[string]bool `json:"notifications"`
	Features      []string        `json:"features"`
	APIRateTier   string          `json:"api_rate_tier"`
	Theme         string          `json:"theme"`
	Language      string          `json:"language"`
}

func initializePreferences(_ context.Context, step *worker.Step[struct{}]) (preferences, error) {
	acct, err := worker.Dependency[userAccount](step, stepCreateUserAccount)
	if err != nil {
		return preferences{}, err
	}
	p := plans[acct.Plan]
	return preferences{
		UserID: acct.UserID, Plan: acct.Plan,
		Notifications: map[string]bool{"email": true, "product_updates": acct.Plan != "free", "weekly_digest": true},
		Features:      p.Features, APIRateTier: p.APIRateTier, Theme: "system", Language: "en",
	}, nil
}

// welcomeSequence is the result of send_welcome_sequence.
type welcomeSequence struct {
	UserID       string   `json:"user_id"`
	Recipient    string   `json:"recipient"`
	Messages     []string `json:"messages_sent"`
	MessageCount int      `json:"message_count"`
	Channel      string   `json:"channel"`
	CampaignID   string   `json:"campaign_id"`
}

func sendWelcomeSequence(_ context.Context, step *worker.Step[struct{}]) (welcomeSequence, error) {
	acct, err := worker.Dependency[userAccount](step, stepCreateUserAccount)
	if err != nil {
		return welcomeSequence{}, err
	}
	bill, err := worker.Dependency[billingProfile](step, stepSetupBilling)
	if err != nil {
		return welcomeSequence{}, err
	}
	if _, err := worker.Dependency[preferences](step, stepInitPreferences); err != nil {
		return welcomeSequence{}, err
	}
	msgs := plans[acct.Plan].Welcome
	if bill.TrialDays > 0 {
		msgs = append(append([]string(nil), msgs...), "trial_started")
	}
	return welcomeSequence{UserID: acct.UserID, Recipient: acct.Email, Messages: msgs,
		MessageCount: len(msgs), Channel: "email", CampaignID: derivedID(step, "cmp_", 12)}, nil
}

// registrationSummary is the result of update_user_status.
type registrationSummary struct {
	UserID           string `json:"user_id"`
	Email            string `json:"email"`
	Plan             string `json:"plan"`
	Status           string `json:"status"`
	BillingID        string `json:"billing_id,omitempty"`
	FeatureCount     int    `json:"feature_count"`
	WelcomeMessages  int    `json:"welcome_messages_sent"`
	RegistrationDone bool   `json:"registration_complete"`
}

func updateUserStatus(_ context.Context, step *worker.Step[struct{}]) (registrationSummary, error) {
	acct, err := worker.Dependency[userAccount](step, stepCreateUserAccount)
	if err != nil {
		return registrationSummary{}, err
	}
	bill, err := worker.Dependency[billingProfile](step, stepSetupBilling)
	if err != nil {
		return registrationSummary{}, err
	}
	prefs, err := worker.Dependency[preferences](step, stepInitPreferences)
	if err != nil {
		return registrationSummary{}, err
	}
	welcome, err := worker.Dependency[welcomeSequence](step, stepWelcomeSequence)
	if err != nil {
		return registrationSummary{}, err
	}
	return registrationSummary{UserID: acct.UserID, Email: acct.Email, Plan: acct.Plan, Status: "active",
		BillingID: bill.BillingID, FeatureCount: len(prefs.Features), WelcomeMessages: welcome.MessageCount,
		RegistrationDone: true}, nil
}

func registerUserRegistration(r *worker.Registry) error {
	return errors.Join(
		worker.Register(r, "microservices_create_user_account", worker.Func(createUserAccount)),
		worker.Register(r, "microservices_setup_billing_profile", worker.Func(setupBillingProfile)),
		worker.Register(r, "microservices_initialize_preferences", worker.Func(initializePreferences)),
		worker.Register(r, "microservices_send_welcome_sequence", worker.Func(sendWelcomeSequence)),
		worker.Register(r, "microservices_update_user_status", worker.Func(updateUserStatus)),
	)
}

# frozen_string_literal: true

require 'securerandom'

# tasker-core's Ruby user registration (user_registration):
# create_user_account -> setup_billing_profile and initialize_preferences ->
# send_welcome_sequence -> update_user_status, over {user_info: {email, name,
# plan, source}}. existing@example.com is an existing (free) user: creating
# it again is idempotent, with other data a permanent conflict.
module Microservices
  EXISTING_USERS = {
    'existing@example.com' => { id: 'user_existing_001', email: 'existing@example.com', name: 'Existing User', plan: 'free',
                                created_at: '2025-01-01T00:00:00Z' }
  }.freeze
  BILLING_TIERS = {
    'free' => { price: 0, features: %w[basic_features], billing_required: false },
    'pro' => { price: 29.99, features: %w[basic_features advanced_analytics], billing_required: true },
    'enterprise' => { price: 299.99, features: %w[basic_features advanced_analytics priority_support custom_integrations],
                      billing_required: true }
  }.freeze
  BASE_PREFERENCES = { email_notifications: true, marketing_emails: false, product_updates: true, weekly_digest: false,
                       theme: 'light', language: 'en', timezone: 'UTC' }.freeze
  PAID_PREFERENCES = { marketing_emails: true, weekly_digest: true, theme: 'dark', api_notifications: true }.freeze
  PREFERENCES = {
    'free' => BASE_PREFERENCES,
    'pro' => BASE_PREFERENCES.merge(PAID_PREFERENCES),
    'enterprise' => BASE_PREFERENCES.merge(PAID_PREFERENCES).merge(audit_logs: true, advanced_reports: true)
  }.freeze
  WELCOME = {
    'free' => { subject: 'Welcome to Our Platform!', greeting: 'Thanks for joining us' },
    'pro' => { subject: 'Welcome to Pro!', greeting: 'Thanks for upgrading to Pro' },
    'enterprise' => { subject: 'Welcome to Enterprise!', greeting: 'Welcome to your Enterprise account' }
  }.freeze
  EMAIL_FORMAT = /\A[\w+\-.]+@[a-z\d-]+(\.[a-z\d-]+)*\.[a-z]+\z/i

  def self.permanent!(message, code)
    raise TaskerCore::Errors::PermanentError.new(message, error_code: code)
  end

  def self.create_user(user_info)
    info = user_info || {}
    permanent!('Email is required but was not provided', 'MISSING_EMAIL') unless info['email']
    permanent!('Name is required but was not provided', 'MISSING_NAME') unless info['name']
    permanent!("Invalid email format: #{info['email']}", 'INVALID_EMAIL_FORMAT') unless info['email'].match?(EMAIL_FORMAT)

    plan = info['plan'] || 'free'
    if (existing = EXISTING_USERS[info['email']])
      unless existing[:name] == info['name'] && existing[:plan] == plan
        permanent!("User with email #{info['email']} already exists with different data", 'USER_CONFLICT')
      end
      return { user_id: existing[:id], email: existing[:email], plan: existing[:plan], status: 'already_exists',
               created_at: existing[:created_at] }
    end
    { user_id: "user_#{SecureRandom.hex(6)}", email: info['email'], name: info['name'], plan: plan, status: 'created',
      created_at: Time.now.utc.iso8601 }
  end

  def self.user!(user)
    user || permanent!('User data not found from create_user_account step', 'MISSING_USER_DATA')
  end

  def self.setup_billing(user)
    user = user!(user)
    plan = user['plan'] || 'free'
    tier = BILLING_TIERS[plan] || BILLING_TIERS['free']
    unless tier[:billing_required]
      return { user_id: user['user_id'], plan: plan, billing_required: false, status: 'skipped_free_plan',
               message: 'Free plan users do not require billing setup' }
    end

    { billing_id: "billing_#{SecureRandom.hex(6)}", user_id: user['user_id'], plan: plan, price: tier[:price], currency: 'USD',
      billing_cycle: 'monthly', features: tier[:features], status: 'active',
      next_billing_date: (Time.now.utc + (30 * 86_400)).iso8601, created_at: Time.now.utc.iso8601 }
  end

  def self.initialize_preferences(user, user_info)
    user = user!(user)
    plan = user['plan'] || 'free'
    custom = (user_info || {})['preferences'] || {}
    defaults = PREFERENCES[plan] || PREFERENCES['free']
    { preferences_id: "prefs_#{SecureRandom.hex(6)}", user_id: user['user_id'], plan: plan, preferences: defaults.merge(custom.to_h.transform_keys(&:to_sym)),
      defaults_applied: defaults.size, customizations: custom.size, status: 'active', created_at: Time.now.utc.iso8601,
      updated_at: Time.now.utc.iso8601 }
  end

  def self.send_welcome(user, billing, preferences)
    user = user!(user)
    permanent!('Billing data not found from setup_billing_profile step', 'MISSING_BILLING_DATA') unless billing
    permanent!('Preferences data not found from initialize_preferences step', 'MISSING_PREFERENCES_DATA') unless preferences

    plan = user['plan'] || 'free'
    channels = []
    channels << 'email' unless (preferences['preferences'] || {})['email_notifications'] == false
    channels << 'in_app'
    channels << 'sms' if plan == 'enterprise'
    { user_id: user['user_id'], plan: plan, channels_used: channels, messages_sent: channels.size,
      welcome_sequence_id: "welcome_#{SecureRandom.hex(6)}", status: 'sent', sent_at: Time.now.utc.iso8601 }
  end

  def self.update_status(user, billing, preferences, welcome, summary: true)
    missing = { 'create_user_account' => user, 'setup_billing_profile' => billing, 'initialize_preferences' => preferences,
                'send_welcome_sequence' => welcome }.select { |_, v| v.nil? }.keys
    unless missing.empty?
      permanent!("Cannot complete registration: missing results from steps: #{missing.join(', ')}", 'INCOMPLETE_WORKFLOW')
    end

    plan = user['plan'] || 'free'
    result = { user_id: user['user_id'], status: 'active', plan: plan }
    if summary
      s = { user_id: user['user_id'], email: user['email'], plan: plan, registration_status: 'complete' }
      s.merge!(billing_id: billing['billing_id'], next_billing_date: billing['next_billing_date']) unless plan == 'free'
      s.merge!(preferences_count: (preferences['preferences'] || {}).size, welcome_sent: true,
               notification_channels: welcome['channels_used'] || [], user_created_at: user['created_at'],
               registration_completed_at: Time.now.utc.iso8601)
      result[:registration_summary] = s
    end
    result.merge(activation_timestamp: Time.now.utc.iso8601, all_services_coordinated: true,
                 services_completed: %w[user_service billing_service preferences_service notification_service])
  end

  module StepHandlers
    class CreateUserAccountHandler < TaskerCore::StepHandler::Base
      def call(context)
        result = Microservices.create_user(context.get_input_or('user_info', {}))
        success(result: result, metadata: { operation: 'create_user', idempotent: result[:status] == 'already_exists' })
      end
    end

    class SetupBillingProfileHandler < TaskerCore::StepHandler::Base
      def call(context)
        success(result: Microservices.setup_billing(context.get_dependency_result('create_user_account')),
                metadata: { operation: 'setup_billing', service: 'billing_service' })
      end
    end

    class InitializePreferencesHandler < TaskerCore::StepHandler::Base
      def call(context)
        result = Microservices.initialize_preferences(context.get_dependency_result('create_user_account'),
                                                      context.get_input_or('user_info', {}))
        success(result: result, metadata: { operation: 'initialize_preferences', service: 'preferences_service' })
      end
    end

    class SendWelcomeSequenceHandler < TaskerCore::StepHandler::Base
      def call(context)
        result = Microservices.send_welcome(*%w[create_user_account setup_billing_profile initialize_preferences].map do |s|
          context.get_dependency_result(s)
        end)
        success(result: result, metadata: { operation: 'send_welcome_sequence', channels_used: result[:channels_used].size })
      end
    end

    class UpdateUserStatusHandler < TaskerCore::StepHandler::Base
      def call(context)
        steps = %w[create_user_account setup_billing_profile initialize_preferences send_welcome_sequence]
        success(result: Microservices.update_status(*steps.map { |s| context.get_dependency_result(s) }),
                metadata: { operation: 'update_user_status', workflow_complete: true })
      end
    end
  end
end

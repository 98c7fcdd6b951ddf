# frozen_string_literal: true

require_relative 'step_handlers'

# User registration as functional-DSL handlers (microservices_dsl_rb); the
# final status carries no registration summary, as in tasker-core's twin.
module MicroservicesDsl
  extend TaskerCore::StepHandler::Functional

  CreateUserAccount = step_handler('microservices_dsl_rb.step_handlers.create_user_account', inputs: [:user_info]) do |user_info:, **|
    Microservices.create_user(user_info)
  end

  SetupBillingProfile = step_handler('microservices_dsl_rb.step_handlers.setup_billing_profile',
                                     depends_on: { user: 'create_user_account_dsl' }) do |user:, **|
    Microservices.setup_billing(user)
  end

  InitializePreferences = step_handler('microservices_dsl_rb.step_handlers.initialize_preferences',
                                       depends_on: { user: 'create_user_account_dsl' }, inputs: [:user_info]) do |user:, user_info:, **|
    Microservices.initialize_preferences(user, user_info)
  end

  SendWelcomeSequence = step_handler('microservices_dsl_rb.step_handlers.send_welcome_sequence',
                                     depends_on: { user: 'create_user_account_dsl', billing: 'setup_billing_profile_dsl',
                                                   preferences: 'initialize_preferences_dsl' }) do |user:, billing:, preferences:, **|
    Microservices.send_welcome(user, billing, preferences)
  end

  UpdateUserStatus = step_handler('microservices_dsl_rb.step_handlers.update_user_status',
                                  depends_on: { user: 'create_user_account_dsl', billing: 'setup_billing_profile_dsl',
                                                preferences: 'initialize_preferences_dsl',
                                                welcome: 'send_welcome_sequence_dsl' }) do |user:, billing:, preferences:, welcome:, **|
    Microservices.update_status(user, billing, preferences, welcome, summary: false)
  end
end

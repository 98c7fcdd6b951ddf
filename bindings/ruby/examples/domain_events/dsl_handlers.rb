# frozen_string_literal: true

require_relative 'step_handlers'

# The domain-event example as functional-DSL handlers (domain_events_dsl).
module DomainEventsDsl
  extend TaskerCore::StepHandler::Functional

  ValidateOrder = step_handler('domain_events_dsl.step_handlers.validate_order') do |context:|
    DomainEvents.validate_order(context.task.context, 'standard')
  end

  ProcessPayment = step_handler('domain_events_dsl.step_handlers.process_payment') do |context:|
    DomainEvents.process_payment(context.task.context, 'mock')
  end

  UpdateInventory = step_handler('domain_events_dsl.step_handlers.update_inventory') do |context:|
    DomainEvents.update_inventory(context.task.context, 'mock')
  end

  SendNotification = step_handler('domain_events_dsl.step_handlers.send_notification') do |context:|
    DomainEvents.send_notification(context.task.context, 'email')
  end
end

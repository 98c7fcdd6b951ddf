# frozen_string_literal: true

require 'test_helper'
require 'open3'

class TestCli < Minitest::Test
  include TestPaths
  BIN = File.expand_path('../bin/tasker-worker-ruby', __dir__)

  def cli(*args, env: {})
    Open3.capture3({ 'TASKER_LOG_LEVEL' => 'error' }.merge(env), RbConfig.ruby, BIN, *args)
  end

  def test_check_lists_the_callables_the_handlers_resolve
    require_shared!(RUBY_TEMPLATES)
    out, err, status = cli('--check', '--handlers', EXAMPLES, '--templates', RUBY_TEMPLATES)
    assert status.success?, err
    report = JSON.parse(out)
    assert_includes report['callables'], 'MixedDagWorkflow::StepHandlers::DagFinalizeHandler'
    assert_includes report['callables'], 'linear_workflow_dsl_rb.step_handlers.linear_step_4'
    # tasker-core's own handler files are not loaded here, so theirs stay unresolved.
    assert_includes report['unresolved'], 'LinearWorkflow::StepHandlers::LinearStep1Handler'
  end

  def test_handler_and_template_paths_from_the_environment
    require_shared!(RUBY_TEMPLATES)
    out, err, status = cli('--check', env: { 'TASKER_HANDLER_PATH' => EXAMPLES, 'TASKER_TEMPLATE_PATH' => RUBY_TEMPLATES })
    assert status.success?, err
    assert_includes JSON.parse(out)['callables'], 'Ecommerce::StepHandlers::ValidateCartHandler'
  end

  def test_usage_errors
    _, err, status = cli('--concurrency', 'many')
    assert_equal 2, status.exitstatus
    assert_match(/invalid argument: --concurrency many/, err)
    _, err, status = cli('extra')
    assert_equal 2, status.exitstatus
    assert_match(/unexpected arguments: extra/, err)
    _, err, status = cli('--handlers', '/nonexistent/dir', '--check')
    assert_equal 1, status.exitstatus
    assert_match %r{handler directory /nonexistent/dir does not exist}, err
    out, _, status = cli('--version')
    assert status.success?
    assert_match(/tasker-worker-ruby \d+\.\d+\.\d+ \(C ABI 1\)/, out)
  end
end

from api.service import Service


def test_visibility_query_filters_by_phase_and_minimum():
    assert Service.visibility_query() == 'WorkflowType = "ActivityLifecycleWorkflow"'
    assert Service.visibility_query("open", True) == (
        'WorkflowType = "ActivityLifecycleWorkflow" AND RunflowPhase = "open" AND RunflowBelowMinimum = true'
    )
    assert Service.visibility_query(below_minimum=False).endswith("RunflowBelowMinimum = false")

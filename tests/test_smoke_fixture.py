from dinoad.pipeline import train


def test_tiny_project_trains_and_separates_defects(make_project, tiny_backbone):
    project = make_project()
    result = train(project, backbone=tiny_backbone)
    assert result.bank.info.num_train_images == 5
    assert result.evaluation.image_auroc is not None and result.evaluation.image_auroc > 0.7
